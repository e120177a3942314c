"""Split cleaned Markdown pages into passages that keep their URL, title and heading path."""

from __future__ import annotations

import re
from collections.abc import Iterator

from retrieval.scripts import slices, split_sentences, word_count
from retrieval.types import Page, Passage

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# About 200 tokens: a few passages fit a small model's context. Measured on the dev set's
# search questions with an 800-token budget (context recall: 110 words 0.87, 150 words 0.90,
# 200 words 0.87): an API entry's signature mostly stays with its description.
TARGET_WORDS = 150
MAX_WORDS = 180

# The emphasised text never holds a `*`: `*a*² ≤ *n*` is two emphases, not one from the first
# `*` to the last. A closing `*` may touch a word character (`*a*²`, as in CommonMark); an
# opening one may not, so `2*3*4` stays. Nested emphasis goes one level per pass.
_EMPHASIS = re.compile(r"(?<![\w*])(\*{1,3})(?=[^\s*])([^*]+?)(?<=\S)\1(?!\*)")
_EMPHASIS_DEPTH = 3
_EMPTY_BULLET = re.compile(r"^[ \t]*-[ \t]*\n", re.MULTILINE)


def plain_passage_text(text: str) -> str:
    """Passage Markdown without emphasis marks and empty bullets, closer to the page's plain
    text that Megrez was trained on (InfiniWebSearch read `innerText`). Small models copy
    `maxsize=128` from a context far more readily than `*maxsize=128*`."""
    for _ in range(_EMPHASIS_DEPTH):
        text, count = _EMPHASIS.subn(r"\2", text)
        if not count:
            break
    return _EMPTY_BULLET.sub("", text)


def split_passages(page: Page, target_words: int = TARGET_WORDS) -> list[Passage]:
    """Passages of `page`: paragraphs grouped up to ~`target_words`, never across headings."""
    passages: list[Passage] = []
    for path, block in _sections(page.text):
        for text in _chunks(block, target_words):
            passages.append(Passage(text=text, url=page.url, title=page.title, heading_path=path))
    return passages


def _sections(text: str) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    """(heading path, paragraphs) for each run of text between headings."""
    stack: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    current: list[str] = []

    def flush_paragraph() -> None:
        if current:
            paragraphs.append("\n".join(current).strip())
            current.clear()

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            flush_paragraph()
            if paragraphs:
                yield tuple(title for _, title in stack), paragraphs
                paragraphs = []
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.group(2).strip("` ")))
        elif line.strip():
            current.append(line)
        else:
            flush_paragraph()
    flush_paragraph()
    if paragraphs:
        yield tuple(title for _, title in stack), paragraphs


def _chunks(paragraphs: list[str], target_words: int) -> Iterator[str]:
    """Group paragraphs into chunks of about `target_words`; split paragraphs that are too long."""
    buffer: list[str] = []
    size = 0
    for paragraph in paragraphs:
        for piece in _split_long(paragraph, target_words):
            words = word_count(piece)
            if buffer and size + words > target_words:
                yield "\n\n".join(buffer)
                buffer, size = [], 0
            buffer.append(piece)
            size += words
    if buffer:
        yield "\n\n".join(buffer)


# An API reference entry's signature line: `textwrap.wrap(text, width=70, …)`, optionally as a
# list item. Its defaults are only meaningful with the description under it.
_SIGNATURE = re.compile(r"^\s*(?:-\s*)?(?:class\s+)?[A-Za-z_][\w.]*\(.*\)\s*(?:->.*)?$")
#: The start of a Markdown list item: its marker and the space after it.
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
#: The most words a list item has when it is a definition's term ("--patch", "help.autoCorrect",
#: "-m <msg>", "cover letter") rather than a statement.
TERM_WORDS = 6


def is_term_line(line: str) -> bool:
    """A list item that names what the item after it describes: short, and not ended like a
    sentence or a clause. A definition list's terms come out of every generator's HTML as
    such items (Sphinx, asciidoc and DocBook `<dt>`s alike), each before its description."""
    item = LIST_ITEM.match(line)
    text = line[item.end() :].strip() if item else ""
    return bool(text) and len(text.split()) <= TERM_WORDS and text[-1] not in ".!?;:,"


def _keep_terms_with_descriptions(units: list[str], joiner: str) -> list[str]:
    """Glue each signature line or definition term (and a bare list marker) to the unit after
    it: a cut between them leaves a description that does not say what it describes (in the
    git manual one passage boundary in five fell there)."""
    merged: list[str] = []
    pending: list[str] = []
    for unit in units:
        pending.append(unit)
        if _SIGNATURE.match(unit) or is_term_line(unit) or unit.strip() in {"-", "*"}:
            continue
        merged.append(joiner.join(pending))
        pending = []
    if pending:
        merged.append(joiner.join(pending))
    return merged


_TABLE_RULE = re.compile(r"^\s*\|?(?:\s*:?-+:?\s*\|)+\s*:?-*:?\s*$")


def table_header(paragraph: str) -> str | None:
    """The header row and rule of a Markdown table, or None if `paragraph` is not one."""
    lines = paragraph.splitlines()[:2]
    if len(lines) == 2 and lines[0].lstrip().startswith("|") and _TABLE_RULE.match(lines[1]):
        return "\n".join(lines)
    return None


def _split_long(paragraph: str, target_words: int) -> Iterator[str]:
    """`paragraph` in pieces of about `target_words`; every piece of a table keeps its header
    row, so a row read alone still says what its cells are (a limit, a default, a code)."""
    header = table_header(paragraph)
    for piece in _split_units(paragraph, target_words):
        yield f"{header}\n{piece}" if header and not piece.startswith(header) else piece


def _split_units(paragraph: str, target_words: int) -> Iterator[str]:
    if word_count(paragraph) <= MAX_WORDS:
        yield paragraph
        return
    # Tables and lists split at line ends; prose at sentence ends (。！？ too, where no
    # space follows); anything else at words, a CJK character counting as one.
    lines = "\n" in paragraph
    units = paragraph.splitlines() if lines else split_sentences(paragraph)
    joiner = "\n" if lines else ""  # sentences keep the space before them
    units = _keep_terms_with_descriptions(units, joiner)

    def piece(buffer: list[str]) -> str:
        return joiner.join(buffer) if lines else "".join(buffer).strip()

    buffer: list[str] = []
    size = 0
    for unit in units:
        words = word_count(unit)
        if words > MAX_WORDS:  # a single giant line or sentence
            if buffer:
                yield piece(buffer)
                buffer, size = [], 0
            yield from slices(unit, target_words)
            continue
        if buffer and size + words > target_words:
            yield piece(buffer)
            buffer, size = [], 0
        buffer.append(unit)
        size += words
    if buffer:
        yield piece(buffer)
