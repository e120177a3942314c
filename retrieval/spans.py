"""Query-focused spans: from the best passages, only the sentences and rows that answer.

A passage of ~150 words holds one or two sentences that matter to a question; the rest costs
the model reading time (on a CPU, about 1.1 s per 100 prompt tokens). Here the best-ranked
passages are cut into units (a sentence of prose or of a list item, a line of a table or of
code) and each unit is scored by BM25 against the query. Each passage, in order of its own
score and its best unit's (`BEST_UNIT_WEIGHT`), gets a share of the token budget for its
best units, each with the unit on either side (a description's signature line, the sentence
that names what "it" is); what the passages leave goes to them again in that order. A table
row never goes without the table's header row, nor a later sentence of a list item without
the item's first, nor a definition's description without its term. The passages are shown
in rank order, what is kept of each in the page's order, and a gap is marked with "…".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from retrieval.bm25 import bm25_scores
from retrieval.passages import LIST_ITEM, is_term_line, table_header
from retrieval.scripts import split_sentences
from retrieval.types import Passage

#: Passages, best first, whose units compete for the budget (`rank_passages` picks them).
CANDIDATES = 10
#: Passages the budget is shared among first; what they leave goes to the best again.
SHOWN_PASSAGES = 4
#: The smallest share, in tokens: a sentence or two, even of a small budget.
MIN_SHARE = 60
#: How much a passage's best unit counts, beside the passage's own score, in the order the
#: passages share the budget (each score divided by the best of the candidates'). BM25 over a
#: whole passage rewards the query's words scattered over it, but the model reads only the
#: best units: one sentence that holds most of the words ("…the length of that commit's
#: message in bytes") says more than a passage where each word comes once. Measured at 600
#: tokens (`bench_context`): context recall dev 0.90 → 0.92, dev-git 0.78 → 0.85, dev-zh
#: 0.91 → 1.00 at 2; at 1 git shows one answer fewer, at 3 both show fewer at 450 tokens,
#: and by the best unit alone the Python docs lose three.
BEST_UNIT_WEIGHT = 2.0
#: Units on each side of a chosen unit added while the budget lasts.
NEIGHBOURS = 1
GAP = "…"


@dataclass(frozen=True)
class _Unit:
    passage: int  # index among the candidates
    position: int  # order inside the passage
    text: str
    joiner: str  # what goes before it after the unit before it: " ", "\n" or "\n\n"
    needs: int | None = None  # the unit it cannot go without (a table's header, an item's lead,
    # a description's term)


_FENCE = re.compile(r"^\s*(```|~~~)")


def _paragraph_units(paragraph: str) -> list[tuple[str, str, int | None]]:
    """(text, joiner, index of the unit it needs) of each unit of one paragraph, in order:
    a table row needs the header row, a later sentence of a list item the item's first
    sentence (a definition's term or an entry's subject: "The loose-objects job cleans up
    loose objects…" names what "The batch size is limited to 50 thousand" is about), and a
    definition's description the term item before it ("--patch" before "Interactively choose
    hunks…")."""
    lines = paragraph.splitlines()
    header = table_header(paragraph)
    if header is not None:  # the header row and its rule are one unit, each row another
        return [(header, "\n", None)] + [(line, "\n", 0) for line in lines[2:] if line.strip()]
    if _FENCE.match(lines[0]):  # code lines are units; fence lines are markup, not content
        return [(line, "\n", None) for line in lines if line.strip() and not _FENCE.match(line)]
    if any(LIST_ITEM.match(line) for line in lines):
        items: list[str] = []
        for line in lines:  # an item with its wrapped continuation lines
            if LIST_ITEM.match(line) or not items:
                items.append(line.strip())
            else:
                items[-1] += " " + line.strip()
        units: list[tuple[str, str, int | None]] = []
        term: int | None = None  # the definition term the next item describes
        for item in items:
            lead = len(units)
            sentences = [s.strip() for s in split_sentences(item) if s.strip()]
            units += [
                (s, "\n", term) if i == 0 else (s, " ", lead) for i, s in enumerate(sentences)
            ]
            term = len(units) - 1 if sentences and is_term_line(item) else None
        return units
    prose = " ".join(line.strip() for line in lines)  # wrapped lines of one paragraph
    return [(s.strip(), " ", None) for s in split_sentences(prose) if s.strip()]


def _units(passage_index: int, text: str) -> list[_Unit]:
    """A passage's units in order: sentences of prose and of list items, lines of tables
    and code."""
    units: list[_Unit] = []
    for paragraph in text.split("\n\n"):
        if not paragraph.strip():
            continue
        first = len(units)
        for i, (piece, joiner, needs) in enumerate(_paragraph_units(paragraph)):
            units.append(
                _Unit(
                    passage_index,
                    len(units),
                    piece,
                    "\n\n" if i == 0 else joiner,
                    None if needs is None else first + needs,
                )
            )
    return units


def _joined(units: list[_Unit]) -> str:
    """Units of one passage back into text, a gap marked by "…"."""
    parts: list[str] = []
    previous: _Unit | None = None
    for unit in units:
        if previous is not None:
            gap = unit.position != previous.position + 1
            parts.append(f"\n{GAP}\n" if gap else unit.joiner)
        parts.append(unit.text)
        previous = unit
    return "".join(parts)


def _window(group: list[_Unit], position: int) -> list[int]:
    """A unit and its neighbours. The unit before is taken only from the same paragraph: a
    paragraph's start is often a new entry (an API signature, a definition's term), and the
    line before it ("New in version 3.2.") belongs to the entry before."""
    window = [position]
    for step in range(1, NEIGHBOURS + 1):
        if position - step >= 0 and group[position - step + 1].joiner != "\n\n":
            window.append(position - step)
        if position + step < len(group):
            window.append(position + step)
    return window


def focus_passages(
    query: str,
    ranked: Sequence[Passage],
    budget_tokens: int,
    count_tokens: Callable[[str], int],
) -> list[Passage]:
    """The parts of the `ranked` passages that match `query`, within `budget_tokens`: each
    passage, best first (`_budget_order`), cut down to its best units and their neighbours."""
    candidates = list(ranked)
    per_passage = [_units(i, p.text) for i, p in enumerate(candidates)]
    units = [unit for group in per_passage for unit in group]
    if not units:
        return []
    own = bm25_scores(query, [Passage(text=u.text, url="", title="") for u in units])
    score = {(u.passage, u.position): float(own[k]) for k, u in enumerate(units)}
    cost = {(u.passage, u.position): count_tokens(u.text) for u in units}
    chosen: dict[int, set[int]] = {}
    seen_texts: set[str] = set()
    left = budget_tokens

    def take(p: int, position: int) -> int:
        """Add a unit (and the header it needs); its cost, or 0 when it did not fit."""
        nonlocal left
        group = per_passage[p]
        wanted = [position]
        needed = group[position].needs
        while needed is not None:  # a row's header, a sentence's item, a description's term
            wanted.insert(0, needed)
            needed = group[needed].needs
        unit = group[position]
        new = [q for q in wanted if q not in chosen.get(p, set())]
        spent = sum(cost[(p, q)] for q in new)
        if not new or spent > left or unit.text.lower() in seen_texts:
            return 0
        chosen.setdefault(p, set()).update(new)
        seen_texts.add(unit.text.lower())
        left -= spent
        return spent

    def fill(p: int, allowance: int) -> None:
        """The passage's best matching units, each with its neighbours, up to `allowance`."""
        group = per_passage[p]
        order = sorted(
            (u.position for u in group if score[(p, u.position)] > 0),
            key=lambda q: -score[(p, q)],
        )
        for position in order:
            if allowance <= 0:
                return
            for q in _window(group, position):
                if allowance > 0:
                    allowance -= take(p, q)

    def close_gaps(p: int) -> None:
        """A single unit missing between two kept ones is taken when it fits: the text then
        reads on instead of breaking at "…"."""
        kept = sorted(chosen.get(p, set()))
        for before, after in itertools.pairwise(kept):
            if after - before == 2:
                take(p, before + 1)

    order = _budget_order(candidates, per_passage, score)
    share = max(budget_tokens // SHOWN_PASSAGES, MIN_SHARE)
    for p in order:  # best first: a fair share each
        fill(p, share)
    for p in order:  # what is left, again best first
        fill(p, left)
    for p in order:
        close_gaps(p)
    # Shown in rank order all the same: the model reads the page the search put first as
    # source 1 (read in the budget's order, the answers of the dev sets fell 0.84 -> 0.80 and
    # 0.64 -> 0.61: "itertools.tee … 2" was then source 3 and went unsaid).
    return [
        replace(candidates[p], text=_joined([per_passage[p][q] for q in sorted(chosen[p])]))
        for p in range(len(candidates))
        if chosen.get(p)
    ]


def _budget_order(
    candidates: Sequence[Passage],
    per_passage: Sequence[Sequence[_Unit]],
    score: dict[tuple[int, int], float],
) -> list[int]:
    """Indices of the candidates, best first: the passage's score and its best unit's, each
    as a share of the best among the candidates, the unit's weighted by `BEST_UNIT_WEIGHT`.
    Ties keep the rank order."""
    best_unit = [max((score[(u.passage, u.position)] for u in g), default=0.0) for g in per_passage]
    top_passage = max((p.score for p in candidates), default=0.0) or 1.0
    top_unit = max(best_unit, default=0.0) or 1.0

    def weight(p: int) -> float:
        return candidates[p].score / top_passage + BEST_UNIT_WEIGHT * best_unit[p] / top_unit

    return sorted(range(len(candidates)), key=lambda p: -weight(p))
