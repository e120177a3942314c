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
    return IndexStore(directory=settings.index_dir)


def guard_policy(settings: Settings) -> GuardPolicy:
    names, networks = settings.allowed_hosts
    return GuardPolicy(names=frozenset(names), networks=tuple(networks))


def fetch_limits(settings: Settings) -> FetchLimits:
    return FetchLimits(
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        deadline_s=settings.fetch_deadline_s,
        max_page_bytes=settings.max_page_bytes,
        max_redirects=settings.max_redirects,
        concurrency=settings.fetch_concurrency,
    )


def document_limits(settings: Settings) -> DocumentLimits:
    return DocumentLimits(
        max_bytes=int(settings.document_max_mb * 1_000_000),
        max_pages=settings.document_max_pages,
        ocr_pages=settings.document_ocr_pages,
        max_unpacked_bytes=int(settings.document_max_unpacked_mb * 1_000_000),
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
            cache=CachePolicy(path=settings.page_cache_path, ttl_s=settings.page_cache_ttl_s),
            indexes=indexes,
        ),
        crawl=CrawlPolicy(
            limits=limits,
            guard=guard,
            concurrency=settings.crawl_concurrency,
            max_pages=settings.crawl_max_pages,
        ),
        rank=RankPolicy(
            context_tokens=settings.context_tokens,
            passages_per_source=settings.passages_per_source,
            rerank=settings.rerank,
            spans=settings.passage_spans,
        ),
        search=SearchPolicy(
            chain=settings.search,
            choices=settings.search_choices,
            timeout_s=settings.search_timeout_s,
            backoff_s=settings.search_backoff_s,
            ddg_backend=settings.ddg_backend,
            indexes=indexes,
        ),
        indexes=indexes,
        documents=document_limits(settings),
    )
