"""The offline demo (`megrez-search demo`, `make demo`): the Python docs as the web.

Debian's `python3.11-doc` HTML is served by a small loopback HTTP server, crawled once into
the local index `pydocs`, and the UI searches `local:pydocs` with loopback exempt from the
SSRF guard — a full search-read-cite loop on a machine without internet. The docs server
keeps a fixed port (`settings.server.demo_docs_port`) because the index records page URLs and the
answers link to them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core.errors import MegrezSearchError
from core.settings import Settings
from retrieval.static_site import StaticSite, StaticSiteError, serve_folder

log = logging.getLogger(__name__)

DOCS_DIR = Path("/usr/share/doc/python3.11/html")
INDEX_NAME = "pydocs"
LOOPBACK_HOSTS = "127.0.0.1,localhost"


class DemoError(MegrezSearchError):
    """The demo cannot start (docs missing, port taken, index failed)."""


def serve_docs(folder: Path, port: int) -> StaticSite:
    try:
        return serve_folder(folder, port)
    except StaticSiteError as exc:
        raise DemoError(f"{exc}; free the port or set MEGREZ_DEMO_DOCS_PORT") from exc


@dataclass
class Demo:
    settings: Settings  # what the UI runs with: local:pydocs, loopback allowed
    docs: StaticSite

    @property
    def provider(self) -> str:
        return self.settings.retrieval.search

    @property
    def docs_url(self) -> str:
        return self.docs.url

    def close(self) -> None:
        self.docs.close()


def demo_settings(settings: Settings) -> Settings:
    hosts = ",".join(part for part in (settings.retrieval.allow_hosts, LOOPBACK_HOSTS) if part)
    return settings.replace(search=f"local:{INDEX_NAME}", allow_hosts=hosts)


def prepare_demo(settings: Settings, *, reindex: bool = False, docs_dir: Path = DOCS_DIR) -> Demo:
    """Serve the docs, index them if needed, and return the settings the UI should use."""
    from retrieval.index import build_index
    from retrieval.index_store import index_path
    from wiring import retrieval_policy

    if not (docs_dir / "index.html").is_file():
        raise DemoError(
            f"the Python docs are not installed at {docs_dir}: "
            "`sudo apt-get install python3.11-doc` (or `make test-deps`)"
        )
    settings = demo_settings(settings)
    policy = retrieval_policy(settings)
    docs = serve_docs(docs_dir, settings.server.demo_docs_port)
    try:
        if reindex or not index_path(INDEX_NAME, policy.indexes).exists():
            print(f"Indexing the Python docs from {docs.url} (once; a few minutes)...", flush=True)
            stats = build_index(docs.url, INDEX_NAME, policy.indexes, policy.crawl, progress=True)
            print(stats.summary(), flush=True)
            if not stats.pages:
                raise DemoError("indexing the Python docs found no pages; see the log above")
    except BaseException:
        docs.close()
        raise
    return Demo(settings, docs)
