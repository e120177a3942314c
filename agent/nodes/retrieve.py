"""search -> fetch -> rank: the web (or a local index) into numbered contexts.

All through `retrieval`: the provider chain searches, pages are fetched concurrently and
reported one by one as they arrive, and the best passages within the token budget become
the numbered contexts the model answers from — one context per source page, so `[N]`
always means source N.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.documents import turn_files
from agent.events import SearchResultsEvent, SourcesEvent
from agent.query_writer import follow_up_context, rank_query
from agent.read_ahead import PLACEHOLDER
from agent.reading import fetch_report, read_pages
from agent.safety import strip_injections
from agent.state import AgentState, Context, page_context, source_of
from retrieval.multiquery import query_variants, search_fused
from retrieval.passages import plain_passage_text
from retrieval.policy import RankPolicy
from retrieval.providers.base import SearchProvider
from retrieval.rank import rank_passages
from retrieval.types import FetchFailure, Page, Passage

from .answer import answer_prompt
from .common import earlier_answers, earlier_questions, step
from .rewrite import search_text

log = logging.getLogger(__name__)


def _query(state: AgentState) -> str:
    return state.queries[-1] if state.queries else state.user_text


def _rank_query(state: AgentState, deps: AgentDeps) -> str:
    return rank_query(_query(state), search_text(state), deps.settings.agent.max_query_words)


def docs_page(
    provider: SearchProvider, query: str | None, found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The best page of the query in the documentation's terms, when the user's words did not
    find it: one page more, never one of theirs less (a wrong guess of the model costs a
    fetch, not a page the keywords found)."""
    if not query:
        return []
    urls = {result["url"] for result in found}
    outcome = provider.search(query, max_results=3)
    for result in outcome.results:
        if result.url not in urls:
            return [asdict(result)]
    return []


@step("search", lambda state: f"Searching: {_query(state)}")
def search(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Ask the provider chain for the query's results (providers never raise for outages);
    meanwhile the model reads the answer prompt's part before the passages."""
    if deps.settings.agent.read_ahead and state.queries:
        deps.read_aheads.start(
            state.run_id,
            deps.runtime,
            deps.clock(),
            lambda now: answer_prompt(state, deps, now, PLACEHOLDER),
            deps.cancel_event(state.run_id),
        )
    provider = deps.turn_provider(
        state.provider, web=state.search and state.search_web, files=turn_files(state)
    )
    wanted = state.max_pages or deps.settings.retrieval.pages
    # The model's query plus the user's own keywords (a follow-up's with the turn it follows)
    # and spelt-out identifiers, fused: one wording alone misses pages that use other words.
    text = search_text(state)
    context = follow_up_context(text, earlier_questions(state, deps), earlier_answers(state, deps))
    queries = query_variants(_query(state), text, deps.settings.retrieval.search_queries, context)
    outcome = search_fused(provider, queries, max_results=wanted)
    results = [asdict(result) for result in outcome.results[:wanted]]
    results += docs_page(provider, state.docs_query, results)
    writer(
        SearchResultsEvent(provider=outcome.provider, results=results, failures=outcome.failures)
    )
    if not results:
        log.info("search for %r found nothing (%s)", _query(state), "; ".join(outcome.failures))
    return {"results": results, "provider_used": outcome.provider, "failures": outcome.failures}


@step("fetch", lambda state: f"Reading {len(state.results)} pages")
def fetch(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Fetch the result pages concurrently, announcing each as it arrives."""
    titles = {result["url"]: result["title"] for result in state.results}
    arrived = read_pages(
        list(titles), deps.retrieval.fetch, writer, titles, files=deps.file_pages(state.owner)
    )
    # Keep the search engine's order (the best result first), not the order of arrival.
    order = {url: index for index, url in enumerate(titles)}
    arrived.sort(key=lambda item: order.get(item.url, len(order)))
    pages = [item for item in arrived if isinstance(item, Page)]
    failures = [f"{item.url}: {item.reason}" for item in arrived if isinstance(item, FetchFailure)]
    return {"pages": pages, "fetched": fetch_report(arrived, titles), "failures": failures}


def group_contexts(
    passages: list[Passage], icons: Mapping[str, str] | None = None
) -> list[Context]:
    """One numbered context per source page, pages in order of their best passage; `icons`
    (page URL -> PNG data URI) go with their sources for the cards."""
    by_url: dict[str, list[Passage]] = {}
    for passage in passages:  # best first
        by_url.setdefault(passage.url, []).append(passage)
    return [
        page_context(
            n,
            url,
            group[0].title,
            "\n\n".join(passage.text for passage in group),
            (icons or {}).get(url),
        )
        for n, (url, group) in enumerate(by_url.items(), start=1)
    ]


def numbered_contexts(
    query: str, pages: Sequence[Page], policy: RankPolicy, count_tokens: Callable[[str], int]
) -> list[Context]:
    """What the model reads: the best passages of `pages` for `query` within the policy's
    budget, as plain text without injected instructions, one numbered context per page.
    Passages that match nothing are not useful."""
    cleaned: list[Passage] = []
    for passage in rank_passages(query, pages, policy, count_tokens):
        if passage.score <= 0:
            continue
        text = plain_passage_text(strip_injections(passage.text))
        if text.strip():
            cleaned.append(replace(passage, text=text))
    return group_contexts(cleaned, {page.url: page.icon for page in pages if page.icon})


@step("rank", "Picking the relevant passages")
def rank(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """The best passages within the token budget (`numbered_contexts`)."""
    policy = replace(deps.retrieval.rank, context_tokens=deps.dialect.context_tokens(deps.settings))
    contexts = numbered_contexts(
        _rank_query(state, deps), state.pages, policy, deps.runtime.count_tokens
    )
    writer(SourcesEvent(sources=[dict(source_of(c)) for c in contexts]))
    return {"contexts": contexts}
