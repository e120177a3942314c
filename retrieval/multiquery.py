"""Several queries per question, fused: finding pages when the user's words are not the docs'.

One query is brittle: the model's rewrite may drop the one word the page uses, and the user's
own wording may not be the docs'. `query_variants` gives the model's query, the keywords of
the user's own message, and a variant with compound identifiers spelt out as words
(`bit_count` -> `bit count`, `getLogger` -> `get Logger`, `textwrap.wrap` -> `textwrap wrap`).
A follow-up's own words lack its subject ("which port does it listen on?"), so for one the
user's keywords are searched together with the turn it follows (`context`): the earlier
question's and answer's words name the subject, and the search engine weighs the rare ones.
`search_fused` runs them through one provider chain and merges the result lists by
reciprocal rank fusion, so a page that several wordings find comes first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.query import keyword_query
from retrieval.search import SearchProvider
from retrieval.types import SearchOutcome, SearchResult

RRF_K = 60  # the usual reciprocal-rank-fusion constant: later ranks still count a little
#: Longest follow-up query with the turn it follows: web engines ignore words past about 32
#: (Google's limit), and an earlier answer may run to paragraphs.
MAX_CONTEXT_QUERY_WORDS = 32

_IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[._][A-Za-z0-9]+)+\b|\b[a-z]+[A-Z]\w*\b")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def spell_out(identifier: str) -> str:
    """`bit_count` -> "bit count"; `getLogger` -> "get Logger"; `a.b_c` -> "a b c"."""
    return " ".join(_CAMEL.sub(" ", identifier).replace("_", " ").replace(".", " ").split())


def identifier_variant(text: str) -> str | None:
    """`text` with its compound identifiers spelt out; None when it has none."""
    if not _IDENTIFIER.search(text):
        return None
    return keyword_query(_IDENTIFIER.sub(lambda m: spell_out(m.group(0)), text))


def query_variants(query: str, question: str, limit: int, context: str = "") -> list[str]:
    """Up to `limit` distinct queries, the model's `query` first; `context` is the earlier
    turn a follow-up `question` leans on ("" for a question that stands alone)."""
    own_words = keyword_query(f"{question} {context}" if context else question)
    own_words = " ".join(own_words.split()[:MAX_CONTEXT_QUERY_WORDS])
    candidates = [query, own_words, identifier_variant(f"{question} {query}")]
    variants: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        key = " ".join((candidate or "").lower().split())
        if key and key not in seen:
            seen.add(key)
            variants.append(candidate or "")
    return variants[: max(1, limit)]


def fuse(result_lists: Sequence[Sequence[SearchResult]], limit: int) -> list[SearchResult]:
    """Reciprocal rank fusion by URL; ties keep the first list's order."""
    scores: dict[str, float] = {}
    first: dict[str, SearchResult] = {}
    for results in result_lists:
        for rank, result in enumerate(results):
            scores[result.url] = scores.get(result.url, 0.0) + 1.0 / (RRF_K + rank + 1)
            first.setdefault(result.url, result)
    order = sorted(scores, key=lambda url: -scores[url])
    return [
        SearchResult(first[url].url, first[url].title, first[url].snippet, rank)
        for rank, url in enumerate(order[:limit], start=1)
    ]


def search_fused(
    provider: SearchProvider, queries: Sequence[str], max_results: int
) -> SearchOutcome:
    """Every query through `provider`, results fused; failures only if nothing answered."""
    outcomes = [provider.search(query, max_results=max_results) for query in queries]
    answered = [outcome for outcome in outcomes if outcome.results]
    if not answered:
        failures = [failure for outcome in outcomes for failure in outcome.failures]
        return SearchOutcome([], outcomes[0].provider if outcomes else None, failures)
    return SearchOutcome(
        fuse([outcome.results for outcome in answered], max_results),
        answered[0].provider,
        [],
    )
