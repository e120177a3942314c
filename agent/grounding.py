"""Grounded text only: answer sentences that no passage supports are removed or marked.

Runs after the citation check (`citations.check_citations`), on its repaired answer: a
sentence the checker could not back with any passage (no citation left, enough content words
to be a claim) is unsupported. `mode` "remove" drops it, "mark" keeps it with a visible
label, "off" leaves the answer alone. An answer with no supported claim at all becomes an
honest "the sources don't say" that lists the sources, so the user can read them.

Small models also pad an answer with sentences that only point at the sources ("This can be
seen in the source code provided in [3]."). Such a sentence passes the lexical check on words
every page has, and its citation is usually to a page that does not hold the answer. Once
the answer has stated something, a sentence whose every content word is either a word for
sources (reference_words.txt) or already said is dropped in both modes: it claims nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Literal

from agent.citations import FENCE_RE, split_sentences, with_markers
from agent.prompts import render, template
from agent.support import content_words, is_claim, support_score
from agent.word_lists import word_list

GroundingMode = Literal["remove", "mark", "off"]


@dataclass
class Grounded:
    answer: str
    unsupported: list[str] = field(default_factory=list)  # sentence bodies dropped or marked
    nothing_supported: bool = False
    pointers: list[str] = field(default_factory=list)  # sentences that only cite, dropped


_REFERENCE_WORDS = word_list("reference_words.txt")


def only_points_at_sources(words: AbstractSet[str], said: AbstractSet[str]) -> bool:
    """A sentence of content `words` names sources and otherwise repeats `said` words."""
    pointing = words & _REFERENCE_WORDS
    return bool(pointing) and words - pointing <= said


def _best_support(
    sentence: str, contexts: Sequence[str], given: frozenset[str]
) -> tuple[int, float]:
    scores = [support_score(sentence, context, given) for context in contexts]
    best = max(range(len(scores)), key=scores.__getitem__)
    return best, scores[best]


def ground(
    answer: str,
    contexts: Sequence[str],
    titles: Sequence[str],
    *,
    mode: GroundingMode,
    threshold: float,
    min_words: int = 2,
    given: frozenset[str] = frozenset(),
) -> Grounded:
    """`answer` (citations already checked) with unsupported sentences handled per `mode`;
    `given` are the question's words, which a sentence may repeat unsupported."""
    if mode == "off" or not contexts:
        return Grounded(answer)
    unsupported: list[str] = []
    pointers: list[str] = []
    said: set[str] = set()
    supported = 0
    out: list[str] = []
    for index, segment in enumerate(FENCE_RE.split(answer)):
        if index % 2:  # fenced code is kept verbatim
            out.append(segment)
            continue
        for sentence in split_sentences(segment):
            words = content_words(sentence.body).keys()
            if said and only_points_at_sources(words, said):
                pointers.append(sentence.body)
                continue
            said.update(words)
            claim = is_claim(sentence.body, contexts, min_words)
            cited = list(sentence.cited)
            if claim and not cited:
                best, score = _best_support(sentence.body, contexts, given)
                if score >= threshold:
                    cited.append(best + 1)  # supported once numbers are compared as numbers
            backed = bool(cited)
            text = f"{with_markers(sentence, cited)}{sentence.end}"
            if claim and not backed:
                unsupported.append(sentence.body)
                if mode == "remove":
                    continue
                text = f"{text} {template('common', 'unsupported_mark')}"
            supported += claim and backed
            out.append(f"{text}{sentence.separator}")
    if unsupported and not supported:
        listing = "\n".join(f"[{n}] {title}" for n, title in enumerate(titles, start=1))
        return Grounded(
            render("common", "sources_dont_say", sources=listing), unsupported, True, pointers
        )
    return Grounded("".join(out).strip(), unsupported, pointers=pointers)
