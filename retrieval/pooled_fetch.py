"""The process's fetcher: pages fetched on its one I/O loop (`retrieval.io_loop`) with pooled
HTTP clients and page caches, so a question reuses the connections of the questions before
it. The synchronous callers' way to fetch (`fetch_pages_sync`, and `pooled_fetcher` for the
agent's page-by-page reading).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import httpx

from retrieval.cache import PageCache
from retrieval.fetch import Fetcher, make_client
from retrieval.io_loop import Pool, run_io
from retrieval.policy import CachePolicy, FetchLimits, FetchPolicy, GuardPolicy
from retrieval.types import FetchFailure, Page


async def _close_client(client: httpx.AsyncClient) -> None:
    await client.aclose()


async def _close_cache(cache: PageCache | None) -> None:
    if cache is not None:
        cache.close()


def _pooled_client(key: tuple[FetchLimits, GuardPolicy]) -> httpx.AsyncClient:
    return make_client(*key)


def _pooled_cache(policy: CachePolicy) -> PageCache | None:
    return PageCache.for_policy(policy)


#: The process's clients (by limits and guard) and page caches (by policy) for fetches on
#: its I/O loop (`retrieval.io_loop`): a question reuses the connections of the ones before.
CLIENTS: Pool[httpx.AsyncClient] = Pool(_pooled_client, _close_client)
CACHES: Pool[PageCache | None] = Pool(_pooled_cache, _close_cache)


@contextlib.asynccontextmanager
async def pooled_fetcher(policy: FetchPolicy) -> AsyncIterator[Fetcher]:
    """A `Fetcher` on the process's pooled client and cache; call on the I/O loop only (a
    client belongs to the loop it first connected on)."""
    async with (
        CLIENTS.hold((policy.limits, policy.guard)) as client,
        CACHES.hold(policy.cache) as cache,
    ):
        fetcher = Fetcher(policy, client=client, cache=cache)
        try:
            yield fetcher
        finally:
            await fetcher.aclose()  # closes only what it made itself (no cache: nothing)


def fetch_pages_sync(urls: Sequence[str], policy: FetchPolicy) -> list[Page | FetchFailure]:
    """`fetch_pages` for synchronous callers: on the process's I/O loop, with its pooled
    client and cache."""

    async def fetch() -> list[Page | FetchFailure]:
        async with pooled_fetcher(policy) as fetcher:
            return await fetcher.fetch_pages(urls)

    return run_io(fetch())
