"""The retrieval policies, built once from the application settings.

Retrieval takes small typed policies, never `Settings` (see `retrieval.policy`);
this is the one place that maps settings onto them. The agent builds them in `AgentDeps`;
the CLI, UI, server, evaluation and benchmarks call `retrieval_policy` too.
"""

from __future__ import annotations

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
