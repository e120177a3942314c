"""SQLite cache of fetched and cleaned pages, keyed by URL, with expiry.

A hit costs one indexed SELECT: no network and no extraction. Failures are not cached, so a
page that was down is tried again next time.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from retrieval.policy import CachePolicy
from retrieval.types import Page

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    final_url TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    content_type TEXT NOT NULL,
    language TEXT,
    date TEXT,
    fetched_at REAL NOT NULL
)
"""


class PageCache:
    """Cleaned pages by URL; entries older than `ttl_s` are misses (and are purged on open)."""

    def __init__(self, path: Path, ttl_s: float) -> None:
        self.path = path
        self.ttl_s = ttl_s
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the event loop and extraction threads, serialised by a lock.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(_SCHEMA)
        self.purge_expired()

    @classmethod
    def for_policy(cls, policy: CachePolicy) -> PageCache | None:
        """The user's cache, or None when caching is turned off (`ttl_s` <= 0)."""
        if policy.ttl_s <= 0:
            return None
        try:
            return cls(policy.path, policy.ttl_s)
        except sqlite3.Error as exc:  # a broken cache must not stop fetching
            logger.warning("page cache %s unusable, fetching without it: %s", policy.path, exc)
            return None

    def get(self, url: str) -> Page | None:
        with self._lock:
            row = self._db.execute(
                "SELECT final_url, title, text, content_type, language, date FROM pages "
                "WHERE url = ? AND fetched_at >= ?",
                (url, time.time() - self.ttl_s),
            ).fetchone()
        if row is None:
            return None
        final_url, title, text, content_type, language, date = row
        return Page(url, final_url, title, text, content_type, language, date, from_cache=True)

    def put(self, page: Page) -> None:
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        page.url,
                        page.final_url,
                        page.title,
                        page.text,
                        page.content_type,
                        page.language,
                        page.date,
                        time.time(),
                    ),
                )
        except sqlite3.Error as exc:
            logger.warning("cannot write page cache %s: %s", self.path, exc)

    def purge_expired(self) -> int:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM pages WHERE fetched_at < ?", (time.time() - self.ttl_s,)
            )
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
