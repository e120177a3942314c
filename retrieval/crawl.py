"""A website into a local index: a polite breadth-first crawl of one host.

Links and sitemap.xml, same host only, robots.txt and rel=nofollow honoured, a few requests
at a time. Re-crawling sends ETag/Last-Modified validators and compares content hashes, so
only changed pages are cleaned and written again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import multiprocessing
import os
import re
import sqlite3
import urllib.robotparser
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
import lxml.html
from lxml import etree
from tqdm import tqdm

from retrieval.clean import LXML_LOCK, CleanDocument, decode_text
from retrieval.errors import RetrievalError
from retrieval.fetch import (
    USER_AGENT,
    RawResponse,
    describe_error,
    fetch_raw,
    make_client,
)
from retrieval.index_store import (
    IndexStats,
    clean_for_index,
    remove_unseen,
    upsert,
)
from retrieval.policy import CrawlPolicy

logger = logging.getLogger(__name__)

# Links to these are never fetched by the crawler: they cannot hold readable text.
_SKIP_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".ico",
    ".webp",
    ".bmp",
    ".css",
    ".js",
    ".mjs",
    ".map",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".eot",
    ".zip",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".7z",
    ".tar",
    ".rar",
    ".exe",
    ".dmg",
    ".msi",
    ".deb",
    ".rpm",
    ".whl",
    ".egg",
    ".iso",
    ".mp3",
    ".mp4",
    ".wav",
    ".ogg",
    ".webm",
    ".avi",
    ".mov",
    ".epub",
    ".chm",
    ".bin",
)


def _normalize(url: str) -> str:
    return urldefrag(url)[0]


@dataclass(frozen=True)
class LinkInfo:
    """What the crawler needs from an HTML page besides its text."""

    links: list[str]
    indexable: bool  # false for <meta name="robots" content="noindex">
    link_density: float  # share of the body's text that is link text


def extract_links(body: bytes, base_url: str, charset: str | None = None) -> LinkInfo:
    """Followable links of an HTML page (rel=nofollow skipped), robots meta and link density."""
    with LXML_LOCK:  # one page's lxml work at a time (retrieval/clean.py)
        return _extract_links(body, base_url, charset)


def _extract_links(body: bytes, base_url: str, charset: str | None) -> LinkInfo:
    try:
        tree = lxml.html.document_fromstring(
            re.sub(r"\A\s*<\?xml[^>]*>", "", decode_text(body, charset))
        )
    except (etree.ParserError, ValueError):
        return LinkInfo([], True, 0.0)
    robots = " ".join(tree.xpath('//meta[@name="robots"]/@content')).lower()
    indexable = "noindex" not in robots
    anchors = tree.xpath("//a[@href]")
    bodies = tree.xpath("//body")
    text_length = len(" ".join(bodies[0].text_content().split())) if bodies else 0
    link_length = sum(len(" ".join(a.text_content().split())) for a in anchors)
    density = min(1.0, link_length / text_length) if text_length else 0.0
    if "nofollow" in robots:
        return LinkInfo([], indexable, density)
    base = (tree.xpath("//base/@href") or [base_url])[0]
    links = []
    for anchor in anchors:
        if "nofollow" in (anchor.get("rel") or "").lower().split():
            continue
        links.append(_normalize(urljoin(urljoin(base_url, base), anchor.get("href").strip())))
    return LinkInfo(list(dict.fromkeys(links)), indexable, density)


def _sitemap_urls(body: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) of a sitemap or sitemap index."""
    with LXML_LOCK:  # XML too: lxml in two threads at once aborted the process (clean.py)
        return _parse_sitemap(body)


def _parse_sitemap(body: bytes) -> tuple[list[str], list[str]]:
    try:
        root = etree.fromstring(
            body, parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError:
        return [], []
    locs = [loc.strip() for loc in root.xpath("//*[local-name()='loc']/text()")]
    if etree.QName(root).localname == "sitemapindex":
        return [], locs
    return locs, []


class Crawler:
    """Breadth-first crawl of one host with a few workers, writing pages as they come."""

    def __init__(
        self,
        root: str,
        policy: CrawlPolicy,
        db: sqlite3.Connection,
        stats: IndexStats,
        progress: bool,
    ) -> None:
        self.root = _normalize(root)
        parts = urlsplit(self.root)
        self.origin = (parts.scheme, parts.netloc.lower())
        self.policy = policy
        self.db = db
        self.stats = stats
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.seen: set[str] = set()  # URLs queued once
        self.kept: set[str] = set()  # URLs whose rows stay in the index
        self.robots = urllib.robotparser.RobotFileParser()
        self.robots.parse([])  # allow everything until robots.txt says otherwise
        self.delay = 0.0
        self.next_start = 0.0
        self.sitemaps: list[str] = []
        self.pool: ProcessPoolExecutor | None = None
        self.client: httpx.AsyncClient | None = None
        self.bar = tqdm(desc=f"indexing {stats.name}", unit="page", total=0, disable=not progress)
        self.writes = 0

    def in_scope(self, url: str) -> bool:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != self.origin:
            return False
        if parts.path.lower().endswith(_SKIP_SUFFIXES):
            return False
        return self.robots.can_fetch(USER_AGENT, url)

    def enqueue(self, url: str) -> None:
        url = _normalize(url)
        if url in self.seen or not self.in_scope(url):
            return
        if len(self.seen) >= self.policy.max_pages:
            return
        self.seen.add(url)
        self.queue.put_nowait(url)
        # The total grows as links are found; the next update() redraws it. Refreshing here
        # wrote one line per discovered link into non-terminal logs (CI, `make bench`).
        self.bar.total += 1

    async def run(self) -> None:
        workers = min(os.cpu_count() or 1, 8)
        if workers > 1:
            # spawn, not fork: forking a process that runs threads can deadlock.
            with ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn")
            ) as pool:
                self.pool = pool
                await self._crawl()
        else:
            await self._crawl()
        self.bar.close()
        self.stats.removed = remove_unseen(self.db, self.kept)

    async def _crawl(self) -> None:
        async with make_client(self.policy.limits, self.policy.guard) as client:
            self.client = client
            await self._read_robots()
            self.enqueue(self.root)
            await self._read_sitemaps()
            # Pages indexed before are visited again even if nothing links to them any more.
            for (url,) in self.db.execute("SELECT url FROM docs").fetchall():
                self.enqueue(url)
            workers = [
                asyncio.create_task(self._worker()) for _ in range(max(1, self.policy.concurrency))
            ]
            await self.queue.join()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _get(self, url: str, headers: dict[str, str] | None = None) -> RawResponse:
        assert self.client is not None, "the client lives for the duration of run()"
        await self._polite_wait()
        return await fetch_raw(self.client, url, self.policy.limits, headers)

    async def _polite_wait(self) -> None:
        """Honour robots.txt Crawl-delay (capped at 10 s) between request starts."""
        if self.delay <= 0:
            return
        loop = asyncio.get_running_loop()
        start = max(loop.time(), self.next_start)
        self.next_start = start + self.delay
        await asyncio.sleep(start - loop.time())

    async def _read_robots(self) -> None:
        url = f"{self.origin[0]}://{self.origin[1]}/robots.txt"
        try:
            raw = await self._get(url)
        except (RetrievalError, httpx.HTTPError):
            return  # no robots.txt: everything is allowed
        lines = raw.body.decode("utf-8", "replace").splitlines()
        self.robots.parse(lines)
        self.delay = min(float(self.robots.crawl_delay(USER_AGENT) or 0), 10.0)
        self.sitemaps = list(self.robots.site_maps() or [])

    async def _read_sitemaps(self) -> None:
        pending = list(self.sitemaps) or [f"{self.origin[0]}://{self.origin[1]}/sitemap.xml"]
        for _depth in range(3):  # sitemap -> sitemap index -> sitemap, no deeper
            nested: list[str] = []
            for url in pending:
                try:
                    raw = await self._get(url)
                except (RetrievalError, httpx.HTTPError) as exc:
                    logger.debug("no sitemap at %s: %s", url, exc)
                    continue
                pages, children = _sitemap_urls(raw.body)
                for page in pages:
                    self.enqueue(page)
                nested.extend(children)
            pending = nested
            if not pending:
                break

    async def _worker(self) -> None:
        while True:
            url = await self.queue.get()
            try:
                await self._visit(url)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad page must not end the crawl
                reason = describe_error(exc, self.policy.limits, url)
                if not isinstance(exc, (RetrievalError, httpx.HTTPError, asyncio.TimeoutError)):
                    logger.exception("unexpected failure indexing %s", url)
                logger.info("not indexed: %s: %s", url, reason)
                self.stats.failures.append((url, reason))
            finally:
                self.bar.update(1)
                self.queue.task_done()

    async def _visit(self, url: str) -> None:
        row = self.db.execute(
            "SELECT etag, last_modified, content_hash, links FROM docs WHERE url = ?", (url,)
        ).fetchone()
        headers = {}
        if row and row[0]:
            headers["If-None-Match"] = row[0]
        if row and row[1]:
            headers["If-Modified-Since"] = row[1]
        raw = await self._get(url, headers)
        if raw.final_url != url:
            # Redirected: index the page under its final URL, once, and only if it is ours.
            if (
                urlsplit(raw.final_url).netloc.lower() != self.origin[1]
                or raw.final_url in self.seen
            ):
                return
            self.seen.add(raw.final_url)
            url = raw.final_url
        if raw.status == 304 and row:
            self._unchanged(url, json.loads(row[3]), raw)
            return
        digest = hashlib.sha256(raw.body).hexdigest()
        if row and row[2] == digest:
            self._unchanged(url, json.loads(row[3]), raw)
            return
        info = LinkInfo([], True, 0.0)
        if raw.content_type in ("text/html", "application/xhtml+xml", ""):
            info = extract_links(raw.body, url, raw.charset)
        for link in info.links:
            self.enqueue(link)
        if not info.indexable:
            return
        doc = await self._clean(raw.body, raw.content_type, url, raw.charset)
        new = upsert(
            self.db,
            url,
            doc,
            digest,
            raw.headers.get("etag"),
            raw.headers.get("last-modified"),
            info.links,
            info.link_density,
        )
        self.kept.add(url)
        if new:
            self.stats.added += 1
        else:
            self.stats.updated += 1
        self._maybe_commit()

    async def _clean(
        self, body: bytes, content_type: str, url: str, charset: str | None
    ) -> CleanDocument:
        """Extraction is the bulk of the work: worker processes use every core; if the pool
        cannot run (e.g. the program was started from stdin), threads do it instead."""
        args = (body, content_type, url, charset)
        if self.pool is not None:
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    self.pool, clean_for_index, *args
                )
            except BrokenProcessPool:
                logger.warning("extraction processes failed; cleaning pages in threads instead")
                self.pool = None
        return await asyncio.to_thread(clean_for_index, *args)

    def _unchanged(self, url: str, links: list[str], raw: RawResponse) -> None:
        self.kept.add(url)
        self.stats.unchanged += 1
        self.db.execute(
            "UPDATE docs SET etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) "
            "WHERE url = ?",
            (raw.headers.get("etag"), raw.headers.get("last-modified"), url),
        )
        for link in links:
            self.enqueue(link)

    def _maybe_commit(self) -> None:
        self.writes += 1
        if self.writes % 50 == 0:
            self.db.commit()
