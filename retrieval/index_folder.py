"""A folder's .html/.md/.txt files into a local index, re-reading only what changed."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path

from tqdm import tqdm

from retrieval.errors import RetrievalError
from retrieval.index_store import (
    IndexStats,
    clean_for_index,
    remove_unseen,
    upsert,
)

logger = logging.getLogger(__name__)

FOLDER_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
}


def index_folder(root: Path, db: sqlite3.Connection, stats: IndexStats, progress: bool) -> None:
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
            doc = clean_for_index(body, FOLDER_TYPES[file.suffix.lower()], url, None)
            if upsert(db, url, doc, digest, stamp, None, []):
                stats.added += 1
            else:
                stats.updated += 1
        except (OSError, RetrievalError) as exc:
            logger.info("not indexed: %s: %s", file, exc)
            stats.failures.append((url, str(exc)))
    stats.removed = remove_unseen(db, seen)
