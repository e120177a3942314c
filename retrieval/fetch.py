"""Fetch pages concurrently and safely, then clean them.

One `httpx.AsyncClient` (one connection pool) serves all pages of a question (and, pooled on
the process's I/O loop, the questions after it: `retrieval.pooled_fetch`); a semaphore bounds
each call's concurrency; each request has connect/read timeouts and all of them share one total
deadline; bodies are streamed and reading stops at the size cap; redirects are followed by
hand so the SSRF guard sees every hop. The guard also runs inside the connection itself
(`GuardedNetworkBackend`): the address that was checked is the address that is connected to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace

import httpcore
import httpx

from retrieval import icons
from retrieval.cache import PageCache
from retrieval.clean import clean_document, media_type
from retrieval.errors import BlockedURLError, FetchError, RetrievalError
from retrieval.guard import Resolver, check_url, resolve_host, validate_url
from retrieval.icons import IconCache
from retrieval.index_store import find_indexed_page
from retrieval.policy import FetchLimits, FetchPolicy, GuardPolicy
from retrieval.types import FetchFailure, Page

logger = logging.getLogger(__name__)

USER_AGENT = "MegrezSearch/0.1 (+https://github.com/megrez-search; self-hosted answer engine)"
_REDIRECT_CODES = {301, 302, 303, 307, 308}
#: Sites' icons for every fetcher of the process: each site's icon is fetched once.
SITE_ICONS = IconCache()


@dataclass(frozen=True)
class RawResponse:
    """A downloaded body before cleaning."""

    url: str
    final_url: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return media_type(self.headers.get("content-type"))[0]

    @property
    def charset(self) -> str | None:
        return media_type(self.headers.get("content-type"))[1]


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects in one step, so DNS cannot change between check and use."""

    def __init__(self, guard: GuardPolicy, resolver: Resolver = resolve_host) -> None:
        self._guard = guard
        self._resolver = resolver
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        url = httpx.URL(scheme="http", host=host, port=port)
        target = await asyncio.wait_for(
            check_url(url, self._guard, self._resolver), timeout=timeout
        )
        return await self._backend.connect_tcp(
            target.address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, *args: object, **kwargs: object
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedURLError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on `GuardedNetworkBackend`."""

    def __init__(
        self, concurrency: int, guard: GuardPolicy, resolver: Resolver = resolve_host
    ) -> None:
        limits = httpx.Limits(
            max_connections=max(concurrency * 2, 4),
            max_keepalive_connections=max(concurrency, 2),
        )
        super().__init__(limits=limits, trust_env=False)
        # httpx has no public hook for the network backend; rebuild its pool with ours. Fail
        # loudly if a future httpx moves the pool: an unguarded pool would fetch anything.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise TypeError("this httpx version keeps no _pool; the SSRF guard cannot install")
        ssl_context = httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(guard, resolver),
        )


def make_client(
    limits: FetchLimits, guard: GuardPolicy, resolver: Resolver = resolve_host
) -> httpx.AsyncClient:
    """The shared client: guarded pool, per-request timeouts, redirects left to `fetch_raw`."""
    timeout = httpx.Timeout(
        connect=limits.connect_timeout_s,
        read=limits.read_timeout_s,
        write=limits.read_timeout_s,
        pool=limits.deadline_s,
    )
    return httpx.AsyncClient(
        transport=GuardedTransport(limits.concurrency, guard, resolver),
        timeout=timeout,
        follow_redirects=False,
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,text/plain,text/markdown,application/pdf;q=0.9,*/*;q=0.5",
        },
        trust_env=False,
    )


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n} bytes"


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise FetchError(
            f"too large: {_size(int(declared))} declared, the limit is {_size(cap)} "
            "(MEGREZ_MAX_PAGE_BYTES)"
        )
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():  # decoded bytes: a gzip bomb hits the cap too
        total += len(chunk)
        if total > cap:
            raise FetchError(
                f"too large: more than {_size(cap)} (MEGREZ_MAX_PAGE_BYTES); stopped reading"
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_raw(
    client: httpx.AsyncClient,
    url: str,
    limits: FetchLimits,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """GET `url` following at most `max_redirects` redirects, each hop checked by the guard.

    A 304 (for conditional `headers`) comes back with an empty body; other HTTP errors raise
    `FetchError`, refused addresses `BlockedURLError`.
    """
    current = httpx.URL(url)
    seen = {str(current)}
    for _hop in range(limits.max_redirects + 1):
        # The scheme is checked here; addresses are checked by the transport at connect time.
        validate_url(current)
        request = client.build_request("GET", current, headers=headers)
        response = await client.send(request, stream=True)
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_CODES and location:
                target = current.join(location)
                if str(target) in seen:
                    raise FetchError(f"redirect loop: {current} redirects back to {target}")
                seen.add(str(target))
                logger.debug("redirect %s -> %s", current, target)
                current = target
                continue
            if response.status_code == 304:
                return RawResponse(url, str(current), 304, response.headers, b"")
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
            body = await _read_capped(response, limits.max_page_bytes)
            return RawResponse(url, str(current), response.status_code, response.headers, body)
        finally:
            await response.aclose()
    raise FetchError(f"too many redirects (more than {limits.max_redirects})")


def describe_error(exc: BaseException, limits: FetchLimits, url: str = "") -> str:
    """A short, user-readable reason for a failed fetch."""
    if isinstance(exc, RetrievalError):
        return str(exc)
    if isinstance(exc, asyncio.TimeoutError):  # the total deadline (not httpx's timeouts)
        return f"timed out: the fetch deadline of {limits.deadline_s:g} s passed"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting (after {limits.connect_timeout_s:g} s)"
    if isinstance(exc, httpx.ReadTimeout):
        return f"timed out reading (no data for {limits.read_timeout_s:g} s)"
    if isinstance(exc, httpx.ConnectError):
        where = httpx.URL(url).netloc.decode() if url.startswith(("http://", "https://")) else url
        return f"connection failed: cannot connect to {where} ({exc or 'refused'})"
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid URL: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"network error: {type(exc).__name__}: {exc}"
    return f"unexpected error: {type(exc).__name__}: {exc}"


class Fetcher:
    """Fetches and cleans pages with one shared client, cache and concurrency bound."""

    def __init__(
        self,
        policy: FetchPolicy,
        client: httpx.AsyncClient | None = None,
        cache: PageCache | None = None,
        resolver: Resolver = resolve_host,
        icons: IconCache = SITE_ICONS,
    ) -> None:
        self.policy = policy
        self._icons = icons
        self._resolver = resolver
        self._client = client
        self._owns_client = client is None
        self._owns_cache = cache is None
        self._cache = cache if cache is not None else PageCache.for_policy(policy.cache)
        self._semaphore = asyncio.Semaphore(max(1, policy.limits.concurrency))

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(self.policy.limits, self.policy.guard, self._resolver)
        return self._client

    async def __aenter__(self) -> Fetcher:  # noqa: PYI034 - typing.Self needs 3.11
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._owns_cache and self._cache is not None:
            self._cache.close()
            self._cache = None

    async def fetch_page(self, url: str) -> Page | FetchFailure:
        """One page, from the cache or the network; never raises."""
        try:
            if url.startswith("file:"):
                return _indexed_file(url, self.policy)
            validate_url(url)
            cached = self._cache.get(url) if self._cache else None
            if cached is not None:
                # The guard decides before the cache answers: a page cached while its host
                # (or the host it redirected to) was trusted is refused once it is not.
                for hop in dict.fromkeys((url, cached.final_url)):
                    await check_url(hop, self.policy.guard, self._resolver)
                icon = self._icons.known(cached.final_url)
                return replace(cached, icon=icon) if icon else cached
            async with self._semaphore:
                raw = await fetch_raw(self.client, url, self.policy.limits)
            # Extraction is CPU work: a thread keeps the event loop serving other downloads.
            doc = await asyncio.to_thread(
                clean_document, raw.body, raw.content_type, raw.final_url, raw.charset
            )
            page = Page(
                url=url,
                final_url=raw.final_url,
                title=doc.title,
                text=doc.text,
                content_type=doc.content_type,
                language=doc.language,
                date=doc.date,
                icon=await self._icon(doc.icon_url, raw.final_url),
            )
            if self._cache:
                self._cache.put(page)
            return page
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes a per-page reason, never a crash
            reason = describe_error(exc, self.policy.limits, url)
            if not isinstance(exc, (RetrievalError, httpx.HTTPError, asyncio.TimeoutError)):
                logger.exception("unexpected failure fetching %s", url)
            logger.info("fetch failed: %s: %s", url, reason)
            return FetchFailure(url=url, reason=reason)

    async def _icon(self, icon_url: str | None, page_url: str) -> str | None:
        """The page's declared icon through the same guarded client, capped small."""
        if not icon_url:
            return None
        limits = replace(self.policy.limits, max_page_bytes=icons.ICON_MAX_BYTES)

        async def download(url: str) -> bytes:
            async with self._semaphore:
                return (await fetch_raw(self.client, url, limits)).body

        try:
            return await asyncio.wait_for(
                self._icons.icon(icon_url, page_url, download), icons.ICON_TIMEOUT_S
            )
        except TimeoutError:
            logger.info("no icon from %s: timed out", icon_url)
            return None
        except Exception:  # an icon is never worth the page
            logger.exception("no icon from %s", icon_url)
            return None

    async def iter_pages(self, urls: Sequence[str]) -> AsyncIterator[Page | FetchFailure]:
        """Pages as they arrive (first finished, first yielded), all within the deadline."""
        unique = list(dict.fromkeys(urls))
        deadline = asyncio.get_running_loop().time() + self.policy.limits.deadline_s

        async def bounded(url: str) -> Page | FetchFailure:
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            try:
                return await asyncio.wait_for(self.fetch_page(url), timeout=left)
            except TimeoutError as exc:
                return FetchFailure(url=url, reason=describe_error(exc, self.policy.limits))

        tasks = [asyncio.create_task(bounded(url)) for url in unique]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            # The caller stopped early (or the deadline passed): stop the rest, then let them end.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def fetch_pages(self, urls: Sequence[str]) -> list[Page | FetchFailure]:
        """All pages, in the order of `urls` (a repeated URL is fetched once)."""
        started = time.perf_counter()
        by_url = {item.url: item async for item in self.iter_pages(urls)}
        logger.info(
            "fetched %d/%d pages in %.2f s",
            sum(isinstance(item, Page) for item in by_url.values()),
            len(by_url),
            time.perf_counter() - started,
        )
        return [by_url[url] for url in urls]


def _indexed_file(url: str, policy: FetchPolicy) -> Page | FetchFailure:
    """A `file:` URL is served only from a local index: fetching never reads arbitrary files."""
    page = find_indexed_page(url, policy.indexes)
    if page is None:
        return FetchFailure(
            url=url,
            reason="blocked: file URLs are read only from local indexes (megrez-search index)",
        )
    return page


async def fetch_pages(urls: Sequence[str], policy: FetchPolicy) -> list[Page | FetchFailure]:
    """Fetch and clean `urls` concurrently; one result per URL, in order, never raising."""
    async with Fetcher(policy) as fetcher:
        return await fetcher.fetch_pages(urls)


async def iter_pages(
    urls: Sequence[str], policy: FetchPolicy
) -> AsyncIterator[Page | FetchFailure]:
    """Like `fetch_pages`, yielding each page as soon as it is ready."""
    async with Fetcher(policy) as fetcher:
        async for item in fetcher.iter_pages(urls):
            yield item
