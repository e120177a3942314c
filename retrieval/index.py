"""Local search indexes (`local:NAME`): SQLite FTS5 with BM25, built from a website or a folder.

A website is crawled over HTTP from its root URL: links and sitemap.xml, same host only,
robots.txt and rel=nofollow honoured, a few requests at a time. A folder contributes its
.html/.md/.txt files. Re-indexing re-fetches with ETag/Last-Modified validators and compares
content hashes, so only changed pages are cleaned and written again.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import re
import sqlite3
import time
import urllib.robotparser
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import httpx
import lxml.html
from lxml import etree
from megrez_search.retrieval.clean import CleanDocument, clean_document, decode_text
from megrez_search.retrieval.errors import LocalIndexError, RetrievalError
from megrez_search.retrieval.fetch import (
    USER_AGENT,
    RawResponse,
    describe_error,
    fetch_raw,
    make_client,
)
from megrez_search.retrieval.query import keyword_query
from megrez_search.retrieval.types import Page, SearchResult
from tqdm import tqdm

from megrez_search.settings import Settings

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FOLDER_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
}
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
# Column weights for bm25(): a query word in the title or URL path says more than in the body.
_WEIGHTS = "10.0, 5.0, 1.0, 8.0"
# Pages whose text is mostly link text (site maps, tables of contents, A-Z indexes) match
# everything and answer nothing: their BM25 score is halved.
_LINK_LIST = 0.6
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    content_type TEXT NOT NULL,
    language TEXT,
    date TEXT,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT NOT NULL,
    links TEXT NOT NULL DEFAULT '[]',
    link_density REAL NOT NULL DEFAULT 0,
    indexed_at REAL NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
    title, headings, body, path, tokenize = 'porter unicode61'
);
"""


@dataclass
class IndexStats:
    """What one `build_index` run did."""

    name: str
    path: Path
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def pages(self) -> int:
        return self.added + self.updated + self.unchanged

    def summary(self) -> str:
        return (
            f"index {self.name!r}: {self.pages} pages ({self.added} new, {self.updated} changed, "
            f"{self.unchanged} unchanged, {self.removed} removed, {len(self.failures)} failed) "
            f"in {self.seconds:.1f} s -> {self.path}"
        )


def index_path(name: str, settings: Settings) -> Path:
    """Where index `name` lives; refuses names that are not plain file names."""
    if not _NAME.match(name):
        raise LocalIndexError(
            f"invalid index name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return settings.index_dir / f"{name}.sqlite"


def list_indexes(settings: Settings) -> list[str]:
    return sorted(path.stem for path in settings.index_dir.glob("*.sqlite"))


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        yield db
        db.commit()


def _open_existing(name: str, settings: Settings) -> sqlite3.Connection:
    path = index_path(name, settings)
    if not path.exists():
        known = ", ".join(list_indexes(settings)) or "none"
        raise LocalIndexError(
            f"no local index named {name!r} in {settings.index_dir} (existing: {known}); "
            f"build it with `megrez-search index SOURCE --name {name}`"
        )
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


# --- searching ------------------------------------------------------------------------------


def fts_query(query: str) -> str:
    """An FTS5 MATCH expression: the query's keywords, quoted, OR-ed (BM25 sorts them out).

    Adjacent words are also tried joined ("data classes" -> "dataclasses"), as identifiers
    and module names often spell a phrase as one word.
    """
    words = [t.lower() for t in re.findall(r"[^\W_]+", keyword_query(query))]
    compounds = [a + b for a, b in itertools.pairwise(words) if a.isalpha() and b.isalpha()]
    return " OR ".join(f'"{term}"' for term in dict.fromkeys(words + compounds))


def search_index(name: str, query: str, limit: int, settings: Settings) -> list[SearchResult]:
    """Best pages of index `name` for `query` by BM25, with a snippet around the matches."""
    match = fts_query(query)
    if not match:
        return []
    with closing(_open_existing(name, settings)) as db:
        try:
            rows = db.execute(
                f"""SELECT docs.url, docs.title,
                           snippet(docs_fts, 2, '', '', ' … ', 32)
                    FROM docs_fts JOIN docs ON docs.id = docs_fts.rowid
                    WHERE docs_fts MATCH ?
                    ORDER BY bm25(docs_fts, {_WEIGHTS})
                             * (CASE WHEN docs.link_density > {_LINK_LIST} THEN 0.5 ELSE 1.0 END)
                    LIMIT ?""",
                (match, limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise LocalIndexError(f"local index {name!r} cannot be searched: {exc}") from exc
    return [
        SearchResult(url=url, title=title, snippet=_plain(snippet), rank=rank)
        for rank, (url, title, snippet) in enumerate(rows, start=1)
    ]


def _plain(markdown: str) -> str:
    """A one-line snippet without Markdown marks."""
    return " ".join(re.sub(r"(^|\s)#{1,6}\s|[*`]+|^\|\s*|\s*\|$", " ", markdown).split())


def find_indexed_page(url: str, settings: Settings) -> Page | None:
    """The stored page for `url` from any local index (used to 'fetch' file: URLs)."""
    for name in list_indexes(settings):
        with closing(_open_existing(name, settings)) as db:
            row = db.execute(
                "SELECT title, text, content_type, language, date FROM docs WHERE url = ?", (url,)
            ).fetchone()
        if row:
            title, text, content_type, language, date = row
            return Page(url, url, title, text, content_type, language, date, from_cache=True)
    return None


# --- writing --------------------------------------------------------------------------------


def _headings(text: str) -> str:
    return " ".join(re.findall(r"^#{1,6}\s+(.+)$", text, re.MULTILINE))


def _path_words(url: str) -> str:
    path = unquote(urlsplit(url).path)
    return " ".join(re.split(r"[/._-]+", re.sub(r"\.(html?|md|markdown|txt)$", "", path)))


def _upsert(
    db: sqlite3.Connection,
    url: str,
    doc: CleanDocument,
    digest: str,
    etag: str | None,
    last_modified: str | None,
    links: list[str],
    link_density: float = 0.0,
) -> bool:
    """Write one page; True if it was new."""
    row = db.execute("SELECT id FROM docs WHERE url = ?", (url,)).fetchone()
    values = (
        doc.title,
        doc.text,
        doc.content_type,
        doc.language,
        doc.date,
        etag,
        last_modified,
        digest,
        json.dumps(links),
        link_density,
        time.time(),
    )
    if row:
        doc_id = row[0]
        db.execute(
            "UPDATE docs SET title=?, text=?, content_type=?, language=?, date=?, etag=?, "
            "last_modified=?, content_hash=?, links=?, link_density=?, indexed_at=? WHERE id=?",
            (*values, doc_id),
        )
        db.execute("DELETE FROM docs_fts WHERE rowid = ?", (doc_id,))
    else:
        doc_id = db.execute(
            "INSERT INTO docs (title, text, content_type, language, date, etag, last_modified, "
            "content_hash, links, link_density, indexed_at, url) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, url),
        ).lastrowid
    db.execute(
        "INSERT INTO docs_fts (rowid, title, headings, body, path) VALUES (?, ?, ?, ?, ?)",
        (doc_id, doc.title, _headings(doc.text), doc.text, _path_words(url)),
    )
    return row is None


def _remove_unseen(db: sqlite3.Connection, seen: set[str]) -> int:
    stale = [
        (doc_id, url) for doc_id, url in db.execute("SELECT id, url FROM docs") if url not in seen
    ]
    for doc_id, _url in stale:
        db.execute("DELETE FROM docs WHERE id = ?", (doc_id,))
        db.execute("DELETE FROM docs_fts WHERE rowid = ?", (doc_id,))
    return len(stale)


def build_index(source: str, name: str, settings: Settings, progress: bool = True) -> IndexStats:
    """Create or update index `name` from a website root URL or a local folder."""
    path = index_path(name, settings)
    started = time.perf_counter()
    stats = IndexStats(name=name, path=path)
    folder = Path(source).expanduser()
    if source.startswith(("http://", "https://")):
        with _open(path) as db:
            _check_source(db, source)
            asyncio.run(_Crawler(source, settings, db, stats, progress).run())
    elif folder.is_dir():
        with _open(path) as db:
            _check_source(db, str(folder.resolve()))
            _index_folder(folder.resolve(), db, stats, progress)
    else:
        raise LocalIndexError(
            f"cannot index {source!r}: give the root URL of a website (http:// or https://) "
            "or an existing folder of .html/.md/.txt files"
        )
    stats.seconds = time.perf_counter() - started
    logger.info(stats.summary())
    return stats


def _check_source(db: sqlite3.Connection, source: str) -> None:
    """One index, one source: re-indexing another source into it would silently mix them."""
    row = db.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()
    if row and row[0] != source:
        raise LocalIndexError(
            f"this index was built from {row[0]!r}, not {source!r}; pick another --name"
        )
    db.execute("INSERT OR REPLACE INTO meta VALUES ('source', ?)", (source,))


# --- folders --------------------------------------------------------------------------------


def _clean_for_index(
    body: bytes, content_type: str, url: str, charset: str | None
) -> CleanDocument:
    return clean_document(body, content_type, url, charset, fast=True)


def _index_folder(root: Path, db: sqlite3.Connection, stats: IndexStats, progress: bool) -> None:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in FOLDER_TYPES)
    seen: set[str] = set()
    for file in tqdm(files, desc=f"indexing {stats.name}", unit="file", disable=not progress):
        url = file.as_uri()
        seen.add(url)
        try:
            stat = file.stat()
            stamp = f"{stat.st_mtime_ns}-{stat.st_size}"
            row = db.execute("SELECT etag, content_hash FROM docs WHERE url = ?", (url,)).fetchone()
            if row and row[0] == stamp:
                stats.unchanged += 1
                continue
            body = file.read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            if row and row[1] == digest:
                db.execute("UPDATE docs SET etag = ? WHERE url = ?", (stamp, url))
                stats.unchanged += 1
                continue
            doc = _clean_for_index(body, FOLDER_TYPES[file.suffix.lower()], url, None)
            if _upsert(db, url, doc, digest, stamp, None, []):
                stats.added += 1
            else:
                stats.updated += 1
        except (OSError, RetrievalError) as exc:
            logger.info("not indexed: %s: %s", file, exc)
            stats.failures.append((url, str(exc)))
    stats.removed = _remove_unseen(db, seen)


# --- websites -------------------------------------------------------------------------------


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


class _Crawler:
    """Breadth-first crawl of one host with a few workers, writing pages as they come."""

    def __init__(
        self,
        root: str,
        settings: Settings,
        db: sqlite3.Connection,
        stats: IndexStats,
        progress: bool,
    ) -> None:
        self.root = _normalize(root)
        parts = urlsplit(self.root)
        self.origin = (parts.scheme, parts.netloc.lower())
        self.settings = settings
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
        if len(self.seen) >= self.settings.crawl_max_pages:
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
        self.stats.removed = _remove_unseen(self.db, self.kept)

    async def _crawl(self) -> None:
        async with make_client(self.settings) as client:
            self.client = client
            await self._read_robots()
            self.enqueue(self.root)
            await self._read_sitemaps()
            # Pages indexed before are visited again even if nothing links to them any more.
            for (url,) in self.db.execute("SELECT url FROM docs").fetchall():
                self.enqueue(url)
            workers = [
                asyncio.create_task(self._worker())
                for _ in range(max(1, self.settings.crawl_concurrency))
            ]
            await self.queue.join()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _get(self, url: str, headers: dict[str, str] | None = None) -> RawResponse:
        assert self.client is not None, "the client lives for the duration of run()"
        await self._polite_wait()
        return await fetch_raw(self.client, url, self.settings, headers)

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
                reason = describe_error(exc, self.settings, url)
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
        new = _upsert(
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
                    self.pool, _clean_for_index, *args
                )
            except BrokenProcessPool:
                logger.warning("extraction processes failed; cleaning pages in threads instead")
                self.pool = None
        return await asyncio.to_thread(_clean_for_index, *args)

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
