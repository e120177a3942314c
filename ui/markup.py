"""The one Markdown parser for answers: markdown-it-py (CommonMark, the parser Gradio ships)
reads the model's text once; only what an answer may hold is written back out.

Allowed: paragraphs of text, code (spans and blocks), emphasis, lists, links whose target is
one of this answer's sources, and citation chips `[N]` for sources that exist. Everything
else keeps only its text: a heading or quote its words, an image its alt text, a link to
anywhere else its label, raw HTML and reference definitions their literal characters
(reference definitions are off, so `[x]: javascript:…` never makes `[x]` a link). The same
tree is written as HTML for the chat (`to_html`) and as Markdown for copies and exports
(`to_markdown`), so a viewer that parses differently has nothing live to find.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.tree import SyntaxTreeNode

from agent.support import SENTENCE_END_RE, SENTENCE_ENDS, split_passage_sentences
from ui.owned import FILE_ROUTE as SERVED_FILE

_CITATION = re.compile(r"\[(\d{1,3})\]")
# Markdown's special characters, backslash-escaped in text written back as Markdown.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>$<-])")
# A code span holding these is written as escaped text in Markdown: a viewer that splits
# code spans differently from CommonMark could otherwise read a link, image or tag in it.
_RISKY_CODE = re.compile(r"`|<|\]\(|\]\[")
_BACKTICKS = re.compile(r"`+")
_FENCE_MARKS = re.compile(r"`{3,}|~{3,}")
# `[1]:` at the start of a line would define `[1]` as a link in the viewer: `[1]\:` does not.
_CITATION_COLON = re.compile(r"(\[\d{1,3}\]):")
_BLOCKS_OF_INLINE = {"paragraph", "heading"}
# Characters left as they are in a link destination; the rest are percent-encoded, which
# keeps `(`, `)`, `<`, `>`, quotes and spaces from ending a Markdown link early.
_URL_SAFE = ":/?#@!$&'*+,;=%~-._"

#: Writes a citation chip: (number, source, the answer's sentence the chip ends) -> HTML.
CiteHtml = Callable[[int, Mapping[str, Any], str], str]


def _citation_rule(state: StateInline, silent: bool) -> bool:
    """`[N]` as one citation token, read before links so `[1](url)` is never a link."""
    if state.src[state.pos] != "[":
        return False
    found = _CITATION.match(state.src, state.pos)
    if not found:
        return False
    if not silent:
        token = state.push("citation", "", 0)
        token.meta = {"n": int(found.group(1))}
        token.content = found.group(0)
    state.pos = found.end()
    return True


@cache
def parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).disable("reference")
    md.inline.ruler.before("link", "citation", _citation_rule)
    return md


def safe_url(url: str) -> str | None:
    """`url` ready for a Markdown link if it is http(s) or a file the page serves (a
    document's copy, `ui.owned`); None for anything else."""
    try:
        parts = urlsplit(str(url).strip())
    except ValueError:
        return None
    if str(url).startswith(SERVED_FILE) and not (parts.scheme or parts.netloc):
        return quote(str(url), safe=_URL_SAFE)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return quote(parts.geturl(), safe=_URL_SAFE)


def link_key(url: str) -> str:
    """A URL as markdown-it writes a link's href, so answer links and sources compare."""
    return parser().normalizeLink(url.strip())


@dataclass
class Answer:
    """A parsed answer with what its links and chips may point to."""

    tree: SyntaxTreeNode
    sources: Mapping[int, Mapping[str, Any]]  # citation number -> source (http(s) only)
    targets: set[str] = field(default_factory=set)  # link_key of every source URL

    @classmethod
    def parse(cls, text: str, sources: Mapping[int, Mapping[str, Any]]) -> Answer:
        tree = SyntaxTreeNode(parser().parse(text))
        targets = {link_key(str(source["url"])) for source in sources.values()}
        return cls(tree, sources, targets)

    def allowed(self, node: SyntaxTreeNode) -> bool:
        return node.type == "link" and str(node.attrs.get("href", "")) in self.targets


def to_html(answer: Answer, cite: CiteHtml) -> str:
    """The answer as HTML built from escaped text and a few fixed tags (no attribute but
    `href` of a source link, `start` of a list, and what `cite` writes), on one line: no
    blank line lets any later Markdown pass end the HTML block, and the Chatbot shows HTML
    messages with `white-space: pre-line`, where a newline between tags would show."""
    return "".join(_html_block(node, answer, cite) for node in answer.tree.children)


def _html_block(node: SyntaxTreeNode, answer: Answer, cite: CiteHtml) -> str:
    kind = node.type
    if kind in _BLOCKS_OF_INLINE:
        said: list[str] = []  # the block's text so far, where each chip stands in it
        chips: list[_Chip] = []
        inline = "".join(
            _html_inline(child, answer, cite, False, said, chips) for child in _inline(node)
        )
        inline = _place_chips(inline, chips, "".join(said), cite)
        return inline if node.hidden else f"<p>{inline}</p>"
    if kind in {"fence", "code_block"}:
        code = html.escape(node.content, quote=False).replace("\n", "&#10;")
        return f"<pre><code>{code}</code></pre>"
    inner = "".join(_html_block(child, answer, cite) for child in node.children)
    if kind == "bullet_list":
        return f"<ul>{inner}</ul>"
    if kind == "ordered_list":
        start = _list_start(node)
        return f'<ol start="{start}">{inner}</ol>' if start != 1 else f"<ol>{inner}</ol>"
    if kind == "list_item":
        return f"<li>{inner}</li>"
    return inner  # blockquote: its paragraphs; hr: nothing


_SENTENCE_ENDS = tuple(SENTENCE_ENDS)


@dataclass(frozen=True)
class _Chip:
    number: int
    source: Mapping[str, Any]
    at: int  # its place in the block's text


def _chip_mark(index: int) -> str:
    # Private-use characters: the escaped text cannot hold them, `_place_chips` swaps them.
    return f"\ue000{index}\ue001"


def _html_inline(
    node: SyntaxTreeNode,
    answer: Answer,
    cite: CiteHtml,
    in_link: bool,
    said: list[str],
    chips: list[_Chip],
) -> str:
    kind = node.type
    if kind in {"text", "html_inline", "code_inline"}:
        content = _unmarked(node.content)
        said.append(content)
        escaped = html.escape(content, quote=False)
        return f"<code>{escaped}</code>" if kind == "code_inline" else escaped
    if kind in {"softbreak", "hardbreak"}:
        said.append(" ")
        return "<br>"
    if kind == "citation":
        number = int(node.meta["n"])
        source = answer.sources.get(number)
        if source is None:
            return ""
        if in_link:
            return f"[{number}]"
        chips.append(_Chip(number, source, len("".join(said))))
        return _chip_mark(len(chips) - 1)
    if kind == "image":  # never an image: its alt text
        return html.escape(_text_of(node), quote=False)
    linked = kind == "link" and answer.allowed(node) and not in_link
    inner = "".join(
        _html_inline(child, answer, cite, in_link or linked, said, chips) for child in node.children
    )
    if kind in {"em", "strong"}:
        return f"<{kind}>{inner}</{kind}>"
    if linked:
        return f'<a href="{html.escape(str(node.attrs["href"]))}">{inner}</a>'
    return inner


def _unmarked(text: str) -> str:
    return text.replace("\ue000", "").replace("\ue001", "")


_CHIP_MARK = re.compile("\ue000(\\d+)\ue001")


def _place_chips(inline: str, chips: Sequence[_Chip], text: str, cite: CiteHtml) -> str:
    """Each chip's mark in `inline` replaced by the chip, written with its sentence, in one
    pass: a chip's own HTML (a source's text) is never searched for marks."""

    def chip(match: re.Match[str]) -> str:
        placed = chips[int(match[1])]
        return cite(placed.number, placed.source, chip_sentence(text, placed.at))

    return _CHIP_MARK.sub(chip, inline)


def chip_sentence(text: str, at: int) -> str:
    """The sentence of `text` a chip at `at` belongs to: the one it ends ("… is 128 [1].",
    "… 128. [1]"), or, written inside one ("according to [1], the maxsize is …"), all of it."""
    head = text[:at]
    if head.rstrip().endswith(_SENTENCE_ENDS):
        return last_sentence(head)
    end = SENTENCE_END_RE.search(text, at)
    return last_sentence(text[: end.start() if end else len(text)])


def last_sentence(text: str) -> str:
    """The last sentence of `text` with a word in it (a chip after the full stop, "… 128.
    [1]", still ends the sentence before it)."""
    parts = [part for part in split_passage_sentences(text) if any(c.isalnum() for c in part)]
    return parts[-1] if parts else ""


def to_markdown(answer: Answer) -> str:
    """The answer as Markdown in which only the allowed constructs are syntax: text is
    escaped, images are their alt text, links only to sources, citations stay `[N]`."""
    blocks = [_md_block(node, answer) for node in answer.tree.children]
    return "\n\n".join(block for block in blocks if block.strip())


def _md_block(node: SyntaxTreeNode, answer: Answer) -> str:
    kind = node.type
    if kind in _BLOCKS_OF_INLINE:
        inline = "".join(_md_inline(child, answer, False) for child in _inline(node)).strip()
        return _CITATION_COLON.sub(r"\1\\:", inline)
    if kind in {"fence", "code_block"}:
        fence = "`" * max(3, _longest_backticks(node.content) + 1)
        return f"{fence}\n{node.content.rstrip(chr(10))}\n{fence}"
    if kind in {"bullet_list", "ordered_list"}:
        start = _list_start(node)
        items = []
        for index, item in enumerate(node.children):
            marker = "-" if kind == "bullet_list" else f"{start + index}."
            body = "\n\n".join(
                text for text in (_md_block(child, answer) for child in item.children) if text
            )
            pad = " " * (len(marker) + 1)
            items.append(f"{marker} " + body.replace("\n", "\n" + pad))
        return "\n".join(items)
    blocks = (_md_block(child, answer) for child in node.children)
    return "\n\n".join(block for block in blocks if block.strip())


def _md_inline(node: SyntaxTreeNode, answer: Answer, in_link: bool) -> str:
    kind = node.type
    if kind in {"text", "html_inline"}:
        return escape_markdown(node.content)
    if kind in {"softbreak", "hardbreak"}:
        return " "
    if kind == "code_inline":
        return _md_code_span(node.content)
    if kind == "citation":
        return node.content if int(node.meta["n"]) in answer.sources else ""
    if kind == "image":
        return escape_markdown(_text_of(node))
    linked = kind == "link" and answer.allowed(node) and not in_link
    inner = "".join(_md_inline(child, answer, in_link or linked) for child in node.children)
    if kind == "em":
        return f"*{inner}*"
    if kind == "strong":
        return f"**{inner}**"
    if linked:
        return f"[{inner}]({safe_url(str(node.attrs['href']))})"
    return inner


def plain_text(text: str) -> str:
    """What a reader of `text` (Markdown) sees, as plain text on one line: emphasis marks,
    code fences and backticks, link syntax and headings' `#` gone, their words kept."""
    words: list[str] = []
    for token in parser().parse(text):
        if token.type in {"fence", "code_block"}:
            words.append(token.content)
        for child in token.children or ():
            if child.type in {"text", "code_inline", "html_inline", "citation", "image"}:
                words.append(child.content)
            elif child.type in {"softbreak", "hardbreak"}:
                words.append(" ")
        if token.type in {"paragraph_close", "heading_close", "fence", "code_block"}:
            words.append(" ")
    # A fence cut off by the snippet's end (or flattened onto one line) leaves its marks.
    return " ".join(_FENCE_MARKS.sub(" ", "".join(words)).split())


def escape_markdown(text: str) -> str:
    """Text that any Markdown viewer shows as written: HTML escaped, specials backslashed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _md_code_span(code: str) -> str:
    if _RISKY_CODE.search(code) or not code.strip():
        return escape_markdown(code)
    return f"`{code}`"


def _inline(node: SyntaxTreeNode) -> list[SyntaxTreeNode]:
    return [child for inline in node.children for child in inline.children]


def _text_of(node: SyntaxTreeNode) -> str:
    """The words of an inline node (an image's alt text, a link's label)."""
    if not node.children:
        if node.type == "citation":
            return str(node.content)
        return "" if node.type in {"softbreak", "hardbreak"} else str(node.content)
    return "".join(_text_of(child) for child in node.children)


def _list_start(node: SyntaxTreeNode) -> int:
    try:
        return max(0, int(node.attrs.get("start", 1)))
    except (TypeError, ValueError):
        return 1


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)
