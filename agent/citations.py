"""Citations: one normal form, and a check that every citation is backed by its source.

Models cite in different forms (Megrez `[citation:3]`, generic `[3]`, `[1, 2]`); the UI and
the API see one form, `[N]`. Small models also cite badly, so after the answer is written
every sentence is checked against the numbered contexts it was given:

- a number that does not exist is removed;
- a citation to a context that does not support the sentence is moved to the context that
  does, or removed when none does;
- a sentence without citations is attributed to the context that supports it, if one does.

Support is lexical: the weighted share of the sentence's content words (numbers and
identifiers weigh more, they carry the facts) found in the context. It is cheap,
deterministic and needs no model; `CitationReport.precision` says how many of the model's
own citations held up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from agent.claims import as_digits, carried_words, contradiction, is_foreign
from agent.word_lists import word_list

# `[3]`, `[citation:3]`, `[ citation: 3 ]`, `[1, 2]`, `[citation:1, citation:2]`. Not `x[0]`:
# a bracket glued to a letter/underscore is code indexing, not a citation.
_NUMBER = r"\s*(?:citation\s*:\s*)?(\d{1,3})\s*"
CITATION_RE = re.compile(rf"(?<![A-Za-z_])\[(?P<body>{_NUMBER}(?:,{_NUMBER})*)\]", re.IGNORECASE)
_BODY_NUMBER_RE = re.compile(r"\d{1,3}")
# Code is never a citation: fenced blocks (an unclosed fence runs to the end) and `spans`.
_CODE_SPAN_RE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)

# Sentence ends: . ! ? (and CJK ones) followed by space, and line breaks (list items).
# Latin sentences end at a stop and a space; CJK ones at 。！？； with or without a space (a
# citation written after the stop, "。[1]", keeps the sentence whole rather than move).
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])\s*(?=[^\s\[])|\n+")
# A dotted or slashed name (`os.path`, the ref `refs/original`) is one word and its parts.
_WORD_RE = re.compile(r"[A-Za-z0-9_]+(?:[./][A-Za-z0-9_]+)*|[^\sA-Za-z0-9_\W]")
_NAME_JOINT_RE = re.compile(r"[./]")
_FACT_MARK_RE = re.compile(r"[_./]")  # what makes a word a code name or a path
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)*")


#: Words too common to show support.
_STOP_WORDS = word_list("stop_words.txt")

Verdict = Literal["supported", "moved", "removed_out_of_range", "removed_unsupported", "attributed"]


def _code_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _CODE_SPAN_RE.finditer(text)]


def _iter_citations(text: str) -> Iterator[re.Match[str]]:
    """Citation markers of `text`, skipping those inside `code spans`."""
    spans = _code_spans(text)
    for match in CITATION_RE.finditer(text):
        if not any(start <= match.start() < end for start, end in spans):
            yield match


def _numbers(match: re.Match[str]) -> list[int]:
    return [int(number) for number in _BODY_NUMBER_RE.findall(match.group("body"))]


def normalize_citations(text: str) -> str:
    """Every citation marker in the one form `[N]` (`[1, 2]` becomes `[1][2]`)."""
    parts: list[str] = []
    last = 0
    for match in _iter_citations(text):
        parts.append(text[last : match.start()])
        parts.append("".join(f"[{n}]" for n in _numbers(match)))
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


def cited_numbers(text: str) -> list[int]:
    """The distinct numbers cited in `text`, in order of first appearance."""
    seen: dict[int, None] = {}
    for match in _iter_citations(text):
        for number in _numbers(match):
            seen.setdefault(number, None)
    return list(seen)


def strip_citations(text: str) -> str:
    """`text` without citation markers (for history turns and support scoring)."""
    parts: list[str] = []
    last = 0
    for match in _iter_citations(text):
        parts.append(text[last : match.start()].rstrip(" "))
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


class CitationStreamNormalizer:
    """Normalises citation markers in a token stream without waiting for the whole answer.

    Text is passed through at once except after an unclosed `[`, which is held back until
    the bracket closes (or grows too long to be a citation).
    """

    _MAX_HELD = 40

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        open_at = text.rfind("[")
        if open_at >= 0 and "]" not in text[open_at:] and len(text) - open_at < self._MAX_HELD:
            self._held = text[open_at:]
            text = text[:open_at]
        else:
            self._held = ""
        return normalize_citations(text)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return normalize_citations(text)


# --- support scoring ---------------------------------------------------------------------


def _stem(word: str) -> str:
    # A light plural/verb-s strip, enough for "caches" ~ "cache"; not a real stemmer.
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> dict[str, float]:
    """Content words of `text` with their weight: facts (numbers, identifiers) weigh 2."""
    words: dict[str, float] = {}
    for raw in _WORD_RE.findall(strip_citations(text)):
        pieces = [raw, *_NAME_JOINT_RE.split(raw)] if _NAME_JOINT_RE.search(raw) else [raw]
        for piece in pieces:
            word = piece.lower()
            if not word or word in _STOP_WORDS or (len(word) < 2 and not word.isdigit()):
                continue
            is_fact = any(ch.isdigit() for ch in word) or bool(_FACT_MARK_RE.search(word))
            words[_stem(word)] = 2.0 if is_fact else 1.0
    return words


def _vocabulary(text: str) -> set[str]:
    vocab: set[str] = set()
    for raw in _WORD_RE.findall(text):
        vocab.add(_stem(raw.lower()))
        if _NAME_JOINT_RE.search(raw):
            vocab.update(_stem(piece.lower()) for piece in _NAME_JOINT_RE.split(raw))
    return vocab


def question_words(question: str) -> frozenset[str]:
    """The content words of the user's question, in `content_words`' form."""
    return frozenset(content_words(as_digits(question)))


def is_claim(sentence: str, contexts: Sequence[str], min_words: int) -> bool:
    """Whether `sentence` states enough to need a source: `min_words` content words, or,
    written in another script than every context, one name or number they could share."""
    words = content_words(sentence)
    if contexts and all(is_foreign(sentence, context) for context in contexts):
        return bool(carried_words(words))
    return len(words) >= min_words


def support_score(sentence: str, context: str, given: frozenset[str] = frozenset()) -> float:
    """Weighted share of `sentence`'s content words that occur in `context` (0..1).

    Numbers are facts a source either states or not: the score is scaled by the share of
    the sentence's numbers found in the context, so "maxsize is 32" is not backed by a
    page that says 128 however many other words they share.

    Words in `given` (the question's own) are left out when the sentence has others: an
    answer restates its question ("In Python 3.11 the database is version 14.0.0"), and
    what needs a source is what it adds, not the premise the user wrote.
    """
    sentence, context = as_digits(sentence), as_digits(context)
    words = content_words(sentence)
    if is_foreign(sentence, context):
        words = {word: words[word] for word in carried_words(words)}
    if not words:
        return 0.0
    added = {word: weight for word, weight in words.items() if word not in given}
    words = added or words
    vocab = _vocabulary(context)
    total = sum(words.values())
    score = sum(weight for word, weight in words.items() if word in vocab) / total
    numbers = [word for word in words if _NUMBER_RE.fullmatch(word)]
    if numbers:
        score *= sum(1 for number in numbers if number in vocab) / len(numbers)
    if score and contradiction(sentence, context, given):
        return 0.0
    return score


#: Support the best sentence of a passage needs before it is shown as what backs a claim:
#: a third of the claim's words (a claim's support may span two sentences of the passage,
#: each then holding part of it; below a third, a highlight would point at a bystander).
SPAN_MIN_SUPPORT = 1 / 3


def supporting_span(
    sentence: str, passage: str, given: frozenset[str] = frozenset(), title: str = ""
) -> str:
    """The sentence of `passage` that supports `sentence` best, by the checker's own score
    (`support_score`, each sentence under the facts of the source's `title`, as the checker
    reads it: `as_read`), trimmed; "" when none holds `SPAN_MIN_SUPPORT` of it. The UI
    highlights it in the citation's preview and links the page at it."""
    best, best_score = "", 0.0
    for part in split_passage_sentences(passage):
        score = support_score(sentence, as_read(title, part), given)
        if score > best_score:
            best, best_score = part, score
    return best if best_score >= SPAN_MIN_SUPPORT else ""


def split_passage_sentences(passage: str) -> list[str]:
    """A passage's sentences and lines (list items, table rows), trimmed, none empty."""
    return [
        part.strip()
        for line in passage.splitlines()
        for part in _SENTENCE_END_RE.split(line)
        if part.strip()
    ]


# --- checking and repair -----------------------------------------------------------------


def title_facts(title: str) -> str:
    """The versions and code names of a source's title ("3.10" of "What's New In Python
    3.10", `asyncio.run`), not its plain words nor a lone digit (a manual section's "(1)")."""
    return " ".join(
        word
        for word in _WORD_RE.findall(title)
        if "_" in word or "." in word or (any(c.isdigit() for c in word) and len(word) > 1)
    )


def as_read(title: str, text: str) -> str:
    """A source to check a sentence against: its passage under the facts of the title the
    model read over it. The title states a version its entries leave out: "What's New In
    Python 3.10" is when "Added the possibility of providing a key function to the APIs in the
    bisect module" happened; checked against the passage alone, the model's right citation of
    it was moved away. Only facts: a sentence that names a source ("…from the Git User
    Manual") would otherwise be backed by that source's plain title words."""
    facts = title_facts(title)
    return f"{facts}\n{text}" if facts else text


@dataclass(frozen=True)
class CitationCheck:
    """What the checker decided about one citation (or one attribution)."""

    sentence: str
    cited: int | None  # the number the model wrote (None for an attribution)
    final: int | None  # the number in the repaired answer (None: removed)
    score: float  # support of the sentence by the final (or, if removed, the cited) context
    verdict: Verdict


@dataclass
class CitationReport:
    answer: str  # the repaired answer, citations as `[N]`
    citations: list[int]  # the numbers used in `answer`, ascending
    checks: list[CitationCheck] = field(default_factory=list)

    @property
    def model_citations(self) -> int:
        return sum(1 for check in self.checks if check.cited is not None)

    @property
    def precision(self) -> float | None:
        """Share of the model's own citations that pointed at a supporting context."""
        own = [check for check in self.checks if check.cited is not None]
        if not own:
            return None
        return sum(1 for check in own if check.verdict == "supported") / len(own)

    @property
    def repairs(self) -> int:
        return sum(1 for check in self.checks if check.verdict != "supported")


@dataclass
class Sentence:
    body: str  # text without citation markers, trailing space trimmed
    end: str  # terminal punctuation kept after the markers are re-inserted
    separator: str  # whitespace that followed the sentence
    cited: list[int]


#: A fenced code block (or one the text ends inside): kept verbatim, its lines are not
#: sentences to cite. `FENCE_RE.split(text)` puts the blocks at the odd indexes.
FENCE_RE = re.compile(r"(```.*?(?:```|$))", re.DOTALL)
_TERMINAL_RE = re.compile(r"([.!?。！？:;]*)$")


def split_sentences(text: str) -> list[Sentence]:
    sentences: list[Sentence] = []
    last = 0
    for match in list(_SENTENCE_END_RE.finditer(text)) + [None]:
        end = match.start() if match else len(text)
        separator = match.group(0) if match else ""
        raw = text[last:end]
        last = match.end() if match else len(text)
        if not raw and not separator:
            continue
        cited = [n for m in _iter_citations(raw) for n in _numbers(m)]
        body = strip_citations(raw).rstrip()
        terminal = _TERMINAL_RE.search(body)
        punctuation = terminal.group(1) if terminal else ""
        body = body[: len(body) - len(punctuation)].rstrip()
        sentences.append(Sentence(body, punctuation, separator, cited))
    # A sentence that is only markers ("… 128. [1]") belongs to the sentence before it.
    merged: list[Sentence] = []
    for sentence in sentences:
        if merged and not sentence.body and sentence.cited:
            merged[-1].cited.extend(sentence.cited)
            merged[-1].separator = sentence.separator
        else:
            merged.append(sentence)
    return merged


def check_citations(
    answer: str,
    contexts: Sequence[str],
    threshold: float = 0.5,
    *,
    min_words: int = 2,
    given: frozenset[str] = frozenset(),
) -> CitationReport:
    """Repair `answer`'s citations against `contexts` (context N is `contexts[N-1]`).

    `threshold` is the support a context needs for a sentence (see `support_score`);
    sentences with fewer than `min_words` content words ("Hi!") are neither cited nor checked;
    `given` are the question's words (see `support_score`).
    """
    checks: list[CitationCheck] = []
    out: list[str] = []
    # Fenced code blocks are kept verbatim: their lines are not sentences to cite.
    for index, segment in enumerate(FENCE_RE.split(answer)):
        if index % 2:
            out.append(segment)
        else:
            out.append(_check_prose(segment, contexts, threshold, min_words, given, checks))
    repaired = "".join(out)
    return CitationReport(repaired, sorted(set(cited_numbers(repaired))), checks)


def _check_prose(
    text: str,
    contexts: Sequence[str],
    threshold: float,
    min_words: int,
    given: frozenset[str],
    checks: list[CitationCheck],
) -> str:
    out: list[str] = []
    for sentence in split_sentences(text):
        final: list[int] = []
        scores = [support_score(sentence.body, context, given) for context in contexts]
        best = max(range(len(scores)), key=scores.__getitem__) if scores else None
        checkable = is_claim(sentence.body, contexts, min_words)
        for number in dict.fromkeys(sentence.cited):
            if not 1 <= number <= len(contexts):
                checks.append(
                    CitationCheck(sentence.body, number, None, 0.0, "removed_out_of_range")
                )
                continue
            score = scores[number - 1]
            if score >= threshold or not checkable:
                final.append(number)
                checks.append(CitationCheck(sentence.body, number, number, score, "supported"))
            elif best is not None and scores[best] >= threshold:
                moved = best + 1
                if moved not in final:
                    final.append(moved)
                checks.append(CitationCheck(sentence.body, number, moved, scores[best], "moved"))
            else:
                checks.append(
                    CitationCheck(sentence.body, number, None, score, "removed_unsupported")
                )
        if not final and checkable and best is not None and scores[best] >= threshold:
            final.append(best + 1)
            checks.append(CitationCheck(sentence.body, None, best + 1, scores[best], "attributed"))
        markers = "".join(f"[{n}]" for n in dict.fromkeys(final))
        body = f"{sentence.body} {markers}" if markers and sentence.body else sentence.body
        out.append(f"{body}{sentence.end}{sentence.separator}")
    return "".join(out)
