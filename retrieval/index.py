"""Local search indexes (`local:NAME`), built from a website or a folder.

The store (SQLite FTS5, searching, reading pages back) is index_store.py; a website is crawled
by crawl.py, a folder read by index_folder.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from retrieval.crawl import Crawler
from retrieval.errors import LocalIndexError
from retrieval.index_folder import index_folder
from retrieval.index_store import IndexStats, check_source, index_path, open_index
from retrieval.policy import CrawlPolicy, IndexStore

logger = logging.getLogger(__name__)


def build_index(
    source: str, name: str, store: IndexStore, crawl: CrawlPolicy, progress: bool = True
) -> IndexStats:
    """Create or update index `name` in `store` from a website root URL or a local folder."""
    path = index_path(name, store)
    started = time.perf_counter()
    stats = IndexStats(name=name, path=path)
    folder = Path(source).expanduser()
    if source.startswith(("http://", "https://")):
        with open_index(path) as db:
            check_source(db, source)
            asyncio.run(Crawler(source, crawl, db, stats, progress).run())
    elif folder.is_dir():
        with open_index(path) as db:
            check_source(db, str(folder.resolve()))
            index_folder(folder.resolve(), db, stats, progress)
    else:
        raise LocalIndexError(
            f"cannot index {source!r}: give the root URL of a website (http:// or https://) "
            "or an existing folder of .html/.md/.txt files"
        )
    stats.seconds = time.perf_counter() - started
    logger.info(stats.summary())
    return stats
