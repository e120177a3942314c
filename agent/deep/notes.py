"""Short cited notes per sub-question, and the one numbered source list they cite.

A note quotes the sentences of the researched pages that best match its sub-question, each
followed by `[N]`: extractive, so it cannot misstate its source, and cheap enough for a 2-core
machine. Sources are numbered in order of first use and never renumbered, so a note's `[N]`
stays valid as later rounds add sources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from agent.citation_marks import strip_citations
from agent.safety import strip_injections
from agent.state import Context, page_context
from retrieval.passages import plain_passage_text
from retrieval.policy import RankPolicy
from retrieval.rank import rank_passages
from retrieval.types import Page, Passage

from .bridge import best_sentences

#: Passage budget (tokens) of one sub-question: several sub-questions share the context.
NOTE_CONTEXT_TOKENS = 450
#: Passages of one sub-question read for its note and bridge candidates.
NOTE_PASSAGES = 3
#: Words per passage: shorter than normal mode's, so three fit the smaller budget.
NOTE_PASSAGE_WORDS = 110
#: Sentences shorter or longer than this (in words) are not quoted.
MIN_NOTE_WORDS, MAX_NOTE_WORDS = 4, 60


@dataclass(frozen=True)
class Finding:
    """One sub-question's evidence: its best passages (clean text) and its note."""

    passages: list[Passage]
    note: str  # "sentence [N] sentence [M]"; "" when nothing matched
    cited: list[int]
    quotes: list[tuple[str, int]]  # (sentence, source number)


def relevant_passages(
    query: str, pages: Sequence[Page], policy: RankPolicy, count_tokens: Callable[[str], int]
) -> list[Passage]:
    """The best passages of `pages` for `query`, cleaned as normal mode cleans them."""
    budget = replace(
        policy,
        context_tokens=NOTE_CONTEXT_TOKENS,
        passages_per_source=2,
        passage_words=NOTE_PASSAGE_WORDS,
    )
    cleaned: list[Passage] = []
    for passage in rank_passages(query, pages, budget, count_tokens):
        if passage.score <= 0:
            continue
        text = plain_passage_text(strip_injections(passage.text)).strip()
        if text:
            cleaned.append(
                Passage(text, passage.url, passage.title, passage.heading_path, passage.score)
            )
    return cleaned[:NOTE_PASSAGES]


def _quotable(sentence: str) -> bool:
    words = sentence.split()
    return MIN_NOTE_WORDS <= len(words) <= MAX_NOTE_WORDS and "```" not in sentence


def number_sources(
    contexts: list[Context], passages: Sequence[Passage], icons: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Give each new URL of `passages` the next number (with its site's icon from `icons`,
    page URL -> data URI); add passage text to its context."""
    numbers = {c["url"]: c["n"] for c in contexts}
    for passage in passages:
        n = numbers.get(passage.url)
        if n is None:
            n = len(contexts) + 1
            numbers[passage.url] = n
            icon = (icons or {}).get(passage.url)
            contexts.append(page_context(n, passage.url, passage.title, "", icon))
        context = contexts[n - 1]
        if passage.text not in context["text"]:
            context["text"] = f"{context['text']}\n\n{passage.text}".strip()
    return numbers


def take_note(
    subquestion: str, query: str, passages: Sequence[Passage], numbers: dict[str, int], most: int
) -> Finding:
    """The `most` best-matching quotable sentences of `passages`, each with its `[N]`."""
    scored: list[tuple[int, str, int]] = []  # (rank, sentence, source number)
    for passage in passages:
        for rank, sentence in enumerate(best_sentences(passage.text, f"{subquestion} {query}", 4)):
            sentence = " ".join(strip_citations(sentence).split())
            if _quotable(sentence):
                scored.append((rank, sentence, numbers[passage.url]))
    scored.sort(key=lambda item: item[0])  # stable: the best passage's sentence first
    picked: list[tuple[str, int]] = []
    for _, sentence, n in scored:
        if all(sentence != other for other, _ in picked):
            picked.append((sentence, n))
        if len(picked) == most:
            break
    note = " ".join(f"{sentence} [{n}]" for sentence, n in picked)
    return Finding(list(passages), note, sorted({n for _, n in picked}), picked)


def note_contexts(notes: Sequence[dict[str, Any]], contexts: Sequence[Context]) -> list[Context]:
    """The sources as the writer reads them: each holding only the sentences quoted from it
    (a short, focused prompt), numbered as the full sources."""
    quoted: dict[int, list[str]] = {}
    for note in notes:
        for sentence, n in note.get("quotes", []):
            if sentence not in quoted.setdefault(n, []):
                quoted[n].append(sentence)
    return [
        Context(**{**c, "text": " ".join(quoted[c["n"]])}) for c in contexts if c["n"] in quoted
    ]
