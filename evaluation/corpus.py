"""The evaluation corpus: a folder of HTML pages served on loopback and indexed by crawling it.

The real search -> fetch -> clean path runs against it, as for any website. The index lives
under the data dir's `indexes/` and is reused as long as the folder is unchanged (a fingerprint of
its files' names, sizes and modification times sits beside the index). Index URLs carry the
server's port, so the port is derived from the folder path and stays the same between runs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import MegrezSearchError
from core.settings import Settings
from retrieval import clean as page_cleaning
from retrieval import crawl as page_crawl
from retrieval import index_folder as folder_index
from retrieval import index_store as page_index
from retrieval import page_structure, passages
from retrieval.index import build_index
from retrieval.index_folder import FOLDER_TYPES
from retrieval.index_store import index_path
from retrieval.static_site import StaticSite, StaticSiteError, serve_folder
from wiring import retrieval_policy

log = logging.getLogger(__name__)

_PORT_BASE, _PORT_SPAN, _PORT_TRIES = 20_000, 20_000, 20
LOOPBACK = "127.0.0.1"  # where the corpus is served


class CorpusError(MegrezSearchError):
    """The corpus folder cannot be served or indexed."""


def _corpus_key(root: Path) -> str:
    return hashlib.sha1(str(root).encode()).hexdigest()[:8]


def _preferred_port(root: Path) -> int:
    return _PORT_BASE + int(_corpus_key(root), 16) % _PORT_SPAN


@contextmanager
def serve_corpus(root: Path, port: int | None = None) -> Iterator[str]:
    """Serve `root` over HTTP on 127.0.0.1; yields the base URL ("http://127.0.0.1:PORT/").

    Without `port`, the folder's own stable port is tried first, then the next ones, so the
    URLs recorded in its index stay valid from one evaluation run to the next.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise CorpusError(f"corpus folder not found: {root}; give a folder of HTML pages")
    start = port if port is not None else _preferred_port(root)
    site: StaticSite | None = None
    for candidate in range(start, start + (1 if port is not None else _PORT_TRIES)):
        try:
            site = serve_folder(root, candidate)
            break
        except StaticSiteError as exc:
            if not exc.port_in_use:
                raise CorpusError(str(exc)) from exc
    if site is None:
        raise CorpusError(f"no free loopback port near {start} to serve {root}")
    with site:
        yield site.url


def fingerprint(root: Path) -> str:
    """A hash of the indexable files' relative paths, sizes and modification times."""
    digest = hashlib.sha256()
    for path in sorted(
        p for p in root.rglob("*") if p.suffix.lower() in FOLDER_TYPES and p.is_file()
    ):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def code_fingerprint() -> str:
    """A hash of the code that cleans and indexes pages: when it changes, the stored texts
    are stale even though the pages are not (a re-crawl would keep them: pages are unchanged)."""
    digest = hashlib.sha256()
    for module in (page_cleaning, page_structure, passages, page_index, page_crawl, folder_index):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class IndexedCorpus:
    root: Path
    base_url: str
    index_name: str
    reused: bool  # the index was up to date: no crawl this run


def index_name_for(root: Path, base_url: str) -> str:
    port = base_url.rstrip("/").rsplit(":", 1)[-1]
    return f"eval-{root.name[:24] or 'corpus'}-{_corpus_key(root)}-{port}"


def ensure_index(
    root: Path, base_url: str, settings: Settings, progress: bool = True
) -> IndexedCorpus:
    """The `local:` index of the corpus served at `base_url`, crawled unless up to date."""
    root = Path(root).resolve()
    name = index_name_for(root, base_url)
    policy = retrieval_policy(settings)
    path = index_path(name, policy.indexes)
    stamp_file = path.with_suffix(".fingerprint")
    stamp = f"code {code_fingerprint()}\ncorpus {fingerprint(root)}"
    old = stamp_file.read_text().strip() if stamp_file.exists() else ""
    if path.exists() and old == stamp:
        log.info("reusing index %s of %s", name, root)
        return IndexedCorpus(root, base_url, name, reused=True)
    if path.exists() and old.split("\n")[0] != stamp.split("\n")[0]:
        log.info("indexing code changed: rebuilding index %s from scratch", name)
        _remove_index(path)
    crawl = policy.crawl.trusting(LOOPBACK)
    stats = build_index(base_url, name, policy.indexes, crawl, progress=progress)
    if stats.pages == 0:
        _remove_index(path)
        raise CorpusError(
            f"indexing {root} (served at {base_url}) found no pages to index; give a folder "
            "of HTML pages reachable by links from its index.html (or its folder listing)"
        )
    stamp_file.write_text(stamp + "\n")
    log.info(stats.summary())
    return IndexedCorpus(root, base_url, name, reused=False)


def allow_loopback(settings: Settings) -> Settings:
    """`settings` with 127.0.0.1 exempt from the SSRF guard (MEGREZ_ALLOW_HOSTS for this run)."""
    if LOOPBACK in settings.retrieval.allow_hosts.split(","):
        return settings
    hosts = ",".join(h for h in (settings.retrieval.allow_hosts, LOOPBACK) if h)
    return settings.replace(allow_hosts=hosts)


def _remove_index(path: Path) -> None:
    """Delete index file `path` with its WAL files and fingerprint."""
    for leftover in [*path.parent.glob(path.name + "*"), path.with_suffix(".fingerprint")]:
        leftover.unlink(missing_ok=True)


def corpus_settings(settings: Settings, corpus: IndexedCorpus) -> Settings:
    """`settings` for questions over `corpus`: its index as the provider, loopback allowed."""
    return allow_loopback(settings).replace(search=f"local:{corpus.index_name}")
