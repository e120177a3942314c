"""Composition: the settings made into the policies and the agent the faces run.

The one place that reads `Settings` whole and hands each lower layer its part. Retrieval
takes small typed policies, never the settings (`retrieval.policy`); the model backends and
the store take their own section (`settings.runtime`, `settings.store`); the agent takes its
retrieval policy from here (`search_agent`). The UI, the API server, the evaluation, the CLI
and the benchmarks build what they run through this module, so a new setting is wired once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from agent.api import SearchAgent
from agent.engines import RuntimeLoader
from core.settings import Settings
from retrieval.policy import (
    CachePolicy,
    CrawlPolicy,
    DocumentLimits,
    FetchLimits,
    FetchPolicy,
    GuardPolicy,
    IndexStore,
    RankPolicy,
    RetrievalPolicy,
    SearchPolicy,
)
from runtime import Runtime, load_runtime
from store import Store


def index_store(settings: Settings) -> IndexStore:
    return IndexStore(directory=settings.store.index_dir)


def guard_policy(settings: Settings) -> GuardPolicy:
    names, networks = settings.retrieval.allowed_hosts
    return GuardPolicy(names=frozenset(names), networks=tuple(networks))


def fetch_limits(settings: Settings) -> FetchLimits:
    return FetchLimits(
        connect_timeout_s=settings.retrieval.connect_timeout_s,
        read_timeout_s=settings.retrieval.read_timeout_s,
        deadline_s=settings.retrieval.fetch_deadline_s,
        max_page_bytes=settings.retrieval.max_page_bytes,
        max_redirects=settings.retrieval.max_redirects,
        concurrency=settings.retrieval.fetch_concurrency,
    )


def document_limits(settings: Settings) -> DocumentLimits:
    return DocumentLimits(
        max_bytes=int(settings.retrieval.document_max_mb * 1_000_000),
        max_pages=settings.retrieval.document_max_pages,
        ocr_pages=settings.retrieval.document_ocr_pages,
        max_unpacked_bytes=int(settings.retrieval.document_max_unpacked_mb * 1_000_000),
    )


def retrieval_policy(settings: Settings) -> RetrievalPolicy:
    """Every retrieval policy `settings` describe."""
    indexes = index_store(settings)
    guard = guard_policy(settings)
    limits = fetch_limits(settings)
    return RetrievalPolicy(
        fetch=FetchPolicy(
            limits=limits,
            guard=guard,
            cache=CachePolicy(
                path=settings.store.page_cache_path, ttl_s=settings.retrieval.page_cache_ttl_s
            ),
            indexes=indexes,
        ),
        crawl=CrawlPolicy(
            limits=limits,
            guard=guard,
            concurrency=settings.retrieval.crawl_concurrency,
            max_pages=settings.retrieval.crawl_max_pages,
        ),
        rank=RankPolicy(
            context_tokens=settings.retrieval.context_tokens,
            passages_per_source=settings.retrieval.passages_per_source,
            rerank=settings.retrieval.rerank,
            spans=settings.retrieval.passage_spans,
        ),
        search=SearchPolicy(
            chain=settings.retrieval.search,
            choices=settings.retrieval.search_choices,
            timeout_s=settings.retrieval.search_timeout_s,
            backoff_s=settings.retrieval.search_backoff_s,
            ddg_backend=settings.retrieval.ddg_backend,
            indexes=indexes,
        ),
        indexes=indexes,
        documents=document_limits(settings),
    )


def search_agent(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    clock: Callable[[], datetime] = datetime.now,
    store: Store | None = None,
    load: RuntimeLoader = load_runtime,
) -> SearchAgent:
    """The agent `settings` describe: its models loaded by `load` (the default one may be
    given as `runtime`), its conversations in `store` (default: the one `settings` name)."""
    return SearchAgent(
        settings,
        runtime,
        retrieval=retrieval_policy(settings),
        clock=clock,
        store=store,
        load=load,
    )
