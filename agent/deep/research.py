"""plan -> research -> take_notes: sub-questions searched and read concurrently, then noted.

Every sub-question of a round is searched at once; the pages of all of them are pooled and
fetched once each (a page two sub-questions find is read once and shared, and a page an
earlier round read is not fetched again); each sub-question then gets a short cited note
from the pooled pages.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.events import (
    NoteEvent,
    PlanEvent,
    QueryEvent,
    ResearchEvent,
    SourcesEvent,
)
from agent.query_writer import build_query, rank_query
from agent.reading import fetch_report, read_pages
from agent.state import Context, source_of
from agent.translation import translate_query
from retrieval.multiquery import query_variants, search_fused
from retrieval.scripts import language_of
from retrieval.types import FetchFailure, Page, SearchOutcome
from runtime import Usage

from .bridge import candidates
from .common import deadline, deep_step, remaining, stopped
from .model_calls import propose_subquestions
from .notes import number_sources, relevant_passages, take_note
from .plan import decompose, merge_plan
from .state import DeepState

log = logging.getLogger(__name__)
#: A fetch given less time than this is not worth starting.
MIN_FETCH_S = 1.0


def subquestion(
    text: str, state: DeepState, deps: AgentDeps, round: int, usage: Usage | None = None
) -> dict[str, Any]:
    """A sub-question and its query: its keywords, or with `usage` to count the model's
    tokens in, its keywords in the sources' language when it is written in another script
    (agent/translation.py; its own words are searched too, see `search_words`)."""
    translated = None
    if usage is not None:
        translated = translate_query(
            text, deps, usage, state.run_id, state.earlier_questions, state.earlier_answers
        )
    query = build_query(
        text,
        translated,
        state.earlier_questions,
        deps.settings.agent.max_query_words,
        state.earlier_answers,
    )
    return {"text": text, "query": query, "round": round}


@deep_step("plan", "Planning the research")
def plan(state: DeepState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """2-5 sub-questions: the question's own parts plus the model's (validated) proposals."""
    usage = Usage()
    started = time.monotonic()
    # Whether the model adds sub-questions to the question's own parts is the dialect's.
    parts = decompose(state.question, deps.settings.agent.deep_max_subquestions)
    ask_model = deps.dialect.asks_model_to_plan(parts)
    proposals = (
        propose_subquestions(state, deps, usage, deadline(started, deps)) if ask_model else []
    )
    texts, by = merge_plan(
        state.question,
        proposals,
        deps.settings.agent.deep_max_subquestions,
        deps.settings.agent.max_query_words,
    )
    if proposals and by == "fallback":
        log.info(
            "deep mode: the model's plan was unusable, using the question's parts: %r", proposals
        )
    subquestions = [subquestion(text, state, deps, 1, usage) for text in texts]
    # The whole question comes first; the part that asks (the last one) is what bridges
    # must lead to. A question that does not split is both.
    subquestions[0]["whole"] = True
    subquestions[-1]["target"] = True
    writer(PlanEvent(round=1, subquestions=texts, by=by))
    return {
        "started": started,
        "round": 1,
        "subquestions": subquestions,
        "tokens": {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens},
    }


def search_words(item: dict[str, Any], deps: AgentDeps) -> list[str]:
    """The queries a sub-question is searched with: its query, and when that was translated
    from another script, the sub-question's own words too (as nodes/retrieve.py does)."""
    if language_of(item["text"]) == language_of(item["query"]):
        return [item["query"]]
    return query_variants(item["query"], item["text"], deps.settings.retrieval.search_queries)


def _search_all(
    state: DeepState, deps: AgentDeps, todo: list[dict[str, Any]]
) -> list[SearchOutcome]:
    provider = deps.turn_provider(state.provider, web=state.web, files=state.files)
    wanted = deps.settings.agent.deep_pages_per_query
    with ThreadPoolExecutor(
        max_workers=min(4, len(todo)), thread_name_prefix="deep-search"
    ) as pool:
        return list(
            pool.map(
                lambda item: search_fused(provider, search_words(item, deps), max_results=wanted),
                todo,
            )
        )


def _fetch(
    urls: list[str], state: DeepState, deps: AgentDeps, writer: StreamWriter, titles: dict[str, str]
) -> list[Page | FetchFailure]:
    # The first round always reads its pages; the time budget limits the rounds after it.
    seconds = deps.retrieval.fetch.limits.deadline_s
    if state.round > 1:  # a round that started within the budget reads at least one batch
        seconds = min(seconds, max(remaining(state, deps), MIN_FETCH_S))
    if not urls or seconds < MIN_FETCH_S:
        return []
    policy = deps.retrieval.fetch.within(seconds)
    files = deps.file_pages(state.files.owner) if state.files is not None else None
    return read_pages(urls, policy, writer, titles, deps.cancel_event(state.run_id), files)


@deep_step(
    "research",
    lambda s: (
        f"Researching {sum(1 for q in s.subquestions if q['round'] == s.round)} "
        f"sub-questions (round {s.round})"
    ),
)
def research(state: DeepState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Search this round's sub-questions concurrently; fetch the pooled new pages once each."""
    todo = [q for q in state.subquestions if q["round"] == state.round]
    if not todo or stopped(state, deps):
        return {}
    for item in todo:
        writer(QueryEvent(query=item["query"]))
    outcomes = _search_all(state, deps, todo)
    known = {page.url: page for page in state.pages}
    tried = {item["url"] for item in state.fetched}
    titles: dict[str, str] = {}
    wanted: list[str] = []
    for outcome in outcomes:
        for result in outcome.results:
            titles.setdefault(result.url, result.title)
            if result.url not in known and result.url not in tried and result.url not in wanted:
                wanted.append(result.url)
    arrived = _fetch(wanted, state, deps, writer, titles)
    pages = [item for item in arrived if isinstance(item, Page)]
    fetched = fetch_report(arrived, titles)
    status = {item["url"]: item["ok"] for item in [*state.fetched, *fetched]}
    uses: dict[str, int] = {}
    for outcome in outcomes:
        for result in outcome.results:
            uses[result.url] = uses.get(result.url, 0) + 1
    for item, outcome in zip(todo, outcomes):
        pages_of = [
            {
                "url": r.url,
                "title": r.title,
                "ok": status.get(r.url, False),
                "shared": r.url in known or uses[r.url] > 1,
            }
            for r in outcome.results
        ]
        writer(
            ResearchEvent(
                round=state.round, subquestion=item["text"], query=item["query"], pages=pages_of
            )
        )
    failures = [f for outcome in outcomes for f in outcome.failures]
    failures += [f"{item.url}: {item.reason}" for item in arrived if isinstance(item, FetchFailure)]
    return {
        "pages": [*state.pages, *pages],
        "fetched": fetched,
        "results": [asdict(r) for outcome in outcomes for r in outcome.results],
        "queries": [item["query"] for item in todo],
        "failures": failures,
        "provider_used": next((o.provider for o in outcomes if o.provider), state.provider_used),
    }


@deep_step("notes", "Taking notes")
def take_notes(state: DeepState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """A short cited note per sub-question of this round, from all pages read so far."""
    contexts: list[Context] = [Context(**c) for c in state.contexts]
    notes = list(state.notes)
    icons = {page.url: page.icon for page in state.pages if page.icon}
    for item in (q for q in state.subquestions if q["round"] == state.round):
        passages = relevant_passages(
            rank_query(item["query"], item["text"], deps.settings.agent.max_query_words),
            state.pages,
            deps.retrieval.rank,
            deps.runtime.count_tokens,
        )
        numbers = number_sources(contexts, passages, icons)
        finding = take_note(
            item["text"], item["query"], passages, numbers, deps.settings.agent.deep_note_sentences
        )
        bridges = candidates([p.text for p in passages], item["text"], state.question)
        notes.append(
            {
                "subquestion": item["text"],
                "text": finding.note,
                "sources": finding.cited,
                "quotes": finding.quotes,
                "bridges": bridges,
                "round": state.round,
                "target": bool(item.get("target")),
                "whole": bool(item.get("whole")),
                "followup": bool(item.get("followup")),
            }
        )
        writer(NoteEvent(subquestion=item["text"], note=finding.note, sources=finding.cited))
    writer(SourcesEvent(sources=[dict(source_of(c)) for c in contexts]))
    return {"notes": notes, "contexts": contexts}
