"""Citations: a check that every citation is backed by its source, and its repair.

Small models cite badly, so after the answer is written every sentence is checked against
the numbered contexts it was given (support as agent/support.py reads it):

- a number that does not exist is removed;
- a citation to a context that does not support the sentence is moved to the context that
  does, or removed when none does;
- a sentence without citations is attributed to the context that supports it, if one does.

`CitationReport.precision` says how many of the model's own citations held up. The markers'
normal form is agent/citation_marks.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from agent.citation_marks import (
    cited_numbers,
    iter_citations,
    marker_numbers,
    normalize_citations,
    strip_citations,
)
from agent.support import SENTENCE_END_RE, SENTENCE_ENDS, is_claim, support_score

Verdict = Literal["supported", "moved", "removed_out_of_range", "removed_unsupported", "attributed"]


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
    #: `body` with the markers the model wrote inside it ("according to [1], …") in place:
    #: cutting one out leaves its words stranded ("according to, …"). Markers at the end
    #: are the checker's to place.
    marked: str = ""


#: A fenced code block (or one the text ends inside): kept verbatim, its lines are not
#: sentences to cite. `FENCE_RE.split(text)` puts the blocks at the odd indexes.
FENCE_RE = re.compile(r"(```.*?(?:```|$))", re.DOTALL)
#: What may close a sentence before its markers: a stop, or the colon of a lead-in.
_TERMINALS = SENTENCE_ENDS + ":;"
_TERMINAL_RE = re.compile(rf"([{_TERMINALS}]*)$")


def split_sentences(text: str) -> list[Sentence]:
    sentences: list[Sentence] = []
    last = 0
    for match in list(SENTENCE_END_RE.finditer(text)) + [None]:
        end = match.start() if match else len(text)
        separator = match.group(0) if match else ""
        raw = text[last:end]
        last = match.end() if match else len(text)
        if not raw and not separator:
            continue
        cited = [n for m in iter_citations(raw) for n in marker_numbers(m)]
        body = strip_citations(raw).rstrip()
        terminal = _TERMINAL_RE.search(body)
        punctuation = terminal.group(1) if terminal else ""
        body = body[: len(body) - len(punctuation)].rstrip()
        marked = _without_trailing_markers(raw, punctuation)
        sentences.append(Sentence(body, punctuation, separator, cited, marked))
    # A sentence that is only markers ("… 128. [1]") belongs to the sentence before it.
    merged: list[Sentence] = []
    for sentence in sentences:
        if merged and not sentence.body and sentence.cited:
            merged[-1].cited.extend(sentence.cited)
            merged[-1].separator = sentence.separator
        else:
            merged.append(sentence)
    return merged


def _without_trailing_markers(raw: str, punctuation: str) -> str:
    """`raw` less its terminal `punctuation` and the markers after its last word, the
    markers inside it kept as `[N]`."""
    matches = list(iter_citations(raw))
    end = len(raw)
    for match in reversed(matches):  # the markers with only space and punctuation after them
        if raw[match.end() : end].strip(" \t\n" + _TERMINALS):
            break
        end = match.start()
    text = normalize_citations(raw[:end]).rstrip()
    while punctuation and text.endswith(punctuation):
        text = text[: len(text) - len(punctuation)].rstrip()
    return text


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
        first_check = len(checks)
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
        renumbered = {c.cited: c.final for c in checks[first_check:] if c.cited is not None}
        out.append(f"{with_markers(sentence, final, renumbered)}{sentence.end}{sentence.separator}")
    return "".join(out)


def with_markers(
    sentence: Sentence, numbers: Sequence[int], renumbered: Mapping[int, int | None] | None = None
) -> str:
    """The sentence's text citing `numbers`: the markers the model wrote inside it stay
    where they are (renumbered as `renumbered` says, dropped where it says None), the other
    numbers go after its last word. Without the punctuation that ends it."""
    body, placed = _inline_markers(sentence, renumbered or {})
    markers = "".join(f"[{n}]" for n in dict.fromkeys(numbers) if n not in placed)
    return f"{body} {markers}" if markers and body else body


def _inline_markers(
    sentence: Sentence, renumbered: Mapping[int, int | None]
) -> tuple[str, set[int]]:
    """The sentence's text with the markers inside it renumbered, and the numbers they now
    hold."""
    text = sentence.marked or sentence.body
    parts: list[str] = []
    placed: set[int] = set()
    last = 0
    for match in iter_citations(text):
        numbers = [renumbered.get(n, n) for n in marker_numbers(match)]
        kept = [n for n in dict.fromkeys(numbers) if n is not None]
        before = text[last : match.start()]
        parts.append(before if kept else before.rstrip(" "))
        parts.append("".join(f"[{n}]" for n in kept))
        placed.update(kept)
        last = match.end()
    parts.append(text[last:])
    return "".join(parts), placed
