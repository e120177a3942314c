"""The store of a local search index (`local:NAME`): one SQLite file, FTS5 with BM25.

Pages are searched twice and the two rankings interleaved (best page, page of the best
section, second page, ...): whole pages (title, headings, body, URL path) and their sections
(the passages answers are read from). A long reference page (`functions.html`,
`stdtypes.html`) loses on the page ranking, whose length normalisation dilutes the one entry
that matters; its section wins on the other. On the dev set's questions this found a gold
page for 52 of 52 (pages alone: 50; reciprocal rank fusion: 52, but a page must then do well
on both rankings, so a best section alone can still be pushed out of the first five).

Searching it, reading a page back (file: URLs are "fetched" from here), and writing pages
into it; filling it is the crawler's (crawl.py) and the folder indexer's (index_folder.py).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from retrieval.clean import CleanDocument, clean_document
from retrieval.errors import LocalIndexError
from retrieval.passages import split_passages
from retrieval.policy import IndexStore
from retrieval.query import keyword_query
from retrieval.scripts import cjk_bigrams, has_cjk
from retrieval.types import Page, Passage, SearchResult

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
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
CREATE VIRTUAL TABLE IF NOT EXISTS sections_fts USING fts5(
    heading, body, doc UNINDEXED, tokenize = 'porter unicode61'
);
CREATE VIRTUAL TABLE IF NOT EXISTS cjk_fts USING fts5(
    grams, text UNINDEXED, doc UNINDEXED, tokenize = 'unicode61'
);
"""
# `unicode61` reads a run of CJK characters as one token, so Chinese text is not searchable
# in the tables above: its sections are also written here as character bigrams (see
# retrieval/scripts.py). Indexes made before this table get it filled on their next opening.
_CJK_VERSION = "1"
# How deep each ranking is read before interleaving.
_PAGE_CANDIDATES, _SECTION_CANDIDATES = 50, 200
# The link-list penalty as a multiplier of bm25() (negative: smaller is better).
_LINK_PENALTY = f"(CASE WHEN docs.link_density > {_LINK_LIST} THEN 0.5 ELSE 1.0 END)"


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


def index_path(name: str, store: IndexStore) -> Path:
    """Where index `name` lives; refuses names that are not plain file names."""
    if not _NAME.match(name):
        raise LocalIndexError(
            f"invalid index name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return store.directory / f"{name}.sqlite"


def list_indexes(store: IndexStore) -> list[str]:
    return sorted(path.stem for path in store.directory.glob("*.sqlite"))


@contextmanager
def open_index(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        _backfill_sections(db)
        _backfill_cjk(db)
        yield db
        db.commit()


def _open_existing(name: str, store: IndexStore) -> sqlite3.Connection:
    path = index_path(name, store)
    if not path.exists():
        known = ", ".join(list_indexes(store)) or "none"
        raise LocalIndexError(
            f"no local index named {name!r} in {store.directory} (existing: {known}); "
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


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    """Whether the index has table `name` (indexes built before it existed do not)."""
    found = db.execute("SELECT name FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return found is not None


def _cjk_ranked(db: sqlite3.Connection, query: str) -> list[tuple[str, str, str]]:
    """Pages by their best section on the CJK bigrams of `query` (none without CJK)."""
    grams = " OR ".join(f'"{gram}"' for gram in dict.fromkeys(cjk_bigrams(query)))
    if not grams or not _has_table(db, "cjk_fts"):
        return []
    rows = db.execute(
        f"""SELECT docs.url, docs.title, substr(cjk_fts.text, 1, 120)
            FROM cjk_fts JOIN docs ON docs.id = cjk_fts.doc
            WHERE cjk_fts MATCH ? ORDER BY bm25(cjk_fts) LIMIT {_SECTION_CANDIDATES}""",
        (grams,),
    ).fetchall()
    return _first_per_page(rows)


def _ranked(db: sqlite3.Connection, match: str, query: str) -> list[tuple[str, str, str]]:
    """(url, title, snippet): the page ranking interleaved with the section rankings."""
    pages = db.execute(
        f"""SELECT docs.url, docs.title, snippet(docs_fts, 2, '', '', ' … ', 32)
            FROM docs_fts JOIN docs ON docs.id = docs_fts.rowid
            WHERE docs_fts MATCH ?
            ORDER BY bm25(docs_fts, {_WEIGHTS}) * {_LINK_PENALTY}
            LIMIT {_PAGE_CANDIDATES}""",
        (match,),
    ).fetchall()
    sections = (
        db.execute(
            f"""SELECT docs.url, docs.title, snippet(sections_fts, 1, '', '', ' … ', 32)
                FROM sections_fts JOIN docs ON docs.id = sections_fts.doc
                WHERE sections_fts MATCH ?
                ORDER BY bm25(sections_fts, 2.0, 1.0) * {_LINK_PENALTY}
                LIMIT {_SECTION_CANDIDATES}""",
            (match,),
        ).fetchall()
        if _has_table(db, "sections_fts")
        else []
    )
    rankings = (pages, _first_per_page(sections), _cjk_ranked(db, query))
    rows: dict[str, tuple[str, str, str]] = {}
    for index in range(max(len(ranking) for ranking in rankings)):
        for ranking in rankings:
            if index < len(ranking):
                rows.setdefault(ranking[index][0], ranking[index])
    return list(rows.values())


def _first_per_page(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Each page once, at the rank of its best section."""
    seen: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        seen.setdefault(row[0], row)
    return list(seen.values())


def search_index(name: str, query: str, limit: int, store: IndexStore) -> list[SearchResult]:
    """Best pages of index `name` for `query` (pages and sections by BM25, fused), with a
    snippet around the matches."""
    match = fts_query(query)
    if not match:
        return []
    with closing(_open_existing(name, store)) as db:
        outdated = has_cjk(query) and _cjk_version(db) != _CJK_VERSION
    if outdated:  # made before CJK text was searchable: add its bigrams once
        try:
            with open_index(index_path(name, store)):
                pass
        except sqlite3.Error as exc:  # a read-only index is searched as it is
            log.warning("local index %r: CJK terms not added: %s", name, exc)
    with closing(_open_existing(name, store)) as db:
        try:
            rows = _ranked(db, match, query)[:limit]
        except sqlite3.Error as exc:
            raise LocalIndexError(f"local index {name!r} cannot be searched: {exc}") from exc
    return [
        SearchResult(url=url, title=title, snippet=_plain(snippet), rank=rank)
        for rank, (url, title, snippet) in enumerate(rows, start=1)
    ]


def _plain(markdown: str) -> str:
    """A one-line snippet without Markdown marks."""
    return " ".join(re.sub(r"(^|\s)#{1,6}\s|[*`]+|^\|\s*|\s*\|$", " ", markdown).split())


def find_indexed_page(url: str, store: IndexStore) -> Page | None:
    """The stored page for `url` from any local index (used to 'fetch' file: URLs)."""
    for name in list_indexes(store):
        with closing(_open_existing(name, store)) as db:
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


def upsert(
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
    _write_sections(db, doc_id, url, doc.title, doc.text)
    return row is None


def _write_sections(db: sqlite3.Connection, doc_id: int, url: str, title: str, text: str) -> None:
    db.execute("DELETE FROM sections_fts WHERE doc = ?", (doc_id,))
    passages = split_passages(Page(url, url, title, text, "text/markdown"))
    db.executemany(
        "INSERT INTO sections_fts (heading, body, doc) VALUES (?, ?, ?)",
        [(" ".join(passage.heading_path), passage.text, doc_id) for passage in passages],
    )
    _write_cjk(db, doc_id, title, passages)


def _write_cjk(db: sqlite3.Connection, doc_id: int, title: str, passages: list[Passage]) -> None:
    """The CJK bigrams of each section (its title and headings too), for CJK pages only."""
    db.execute("DELETE FROM cjk_fts WHERE doc = ?", (doc_id,))
    rows = []
    for passage in passages:
        grams = cjk_bigrams(" ".join([title, *passage.heading_path, passage.text]))
        if grams:
            rows.append((" ".join(grams), passage.text, doc_id))
    db.executemany("INSERT INTO cjk_fts (grams, text, doc) VALUES (?, ?, ?)", rows)


def _cjk_version(db: sqlite3.Connection) -> str | None:
    if not _has_table(db, "meta"):
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'cjk_version'").fetchone()
    return row[0] if row else None


def _backfill_cjk(db: sqlite3.Connection) -> None:
    """CJK bigrams for the pages of an index made before they were written."""
    if _cjk_version(db) == _CJK_VERSION:
        return
    db.execute("DELETE FROM cjk_fts")
    for doc_id, url, title, text in db.execute("SELECT id, url, title, text FROM docs").fetchall():
        if has_cjk(title) or has_cjk(text):
            page = Page(url, url, title, text, "text/markdown")
            _write_cjk(db, doc_id, title, split_passages(page))
    db.execute("INSERT OR REPLACE INTO meta VALUES ('cjk_version', ?)", (_CJK_VERSION,))


def _backfill_sections(db: sqlite3.Connection) -> None:
    """Sections for an index built before they existed (its unchanged pages are not
    rewritten by a new run)."""
    if db.execute("SELECT 1 FROM sections_fts LIMIT 1").fetchone():
        return
    for doc_id, url, title, text in db.execute("SELECT id, url, title, text FROM docs").fetchall():
        _write_sections(db, doc_id, url, title, text)


def remove_unseen(db: sqlite3.Connection, seen: set[str]) -> int:
    stale = [
        (doc_id, url) for doc_id, url in db.execute("SELECT id, url FROM docs") if url not in seen
    ]
    for doc_id, _url in stale:
        db.execute("DELETE FROM docs WHERE id = ?", (doc_id,))
        db.execute("DELETE FROM docs_fts WHERE rowid = ?", (doc_id,))
        db.execute("DELETE FROM sections_fts WHERE doc = ?", (doc_id,))
        db.execute("DELETE FROM cjk_fts WHERE doc = ?", (doc_id,))
    return len(stale)


def check_source(db: sqlite3.Connection, source: str) -> None:
    """One index, one source: re-indexing another source into it would silently mix them."""
    row = db.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()
    if row and row[0] != source:
        raise LocalIndexError(
            f"this index was built from {row[0]!r}, not {source!r}; pick another --name"
        )
    db.execute("INSERT OR REPLACE INTO meta VALUES ('source', ?)", (source,))


def clean_for_index(body: bytes, content_type: str, url: str, charset: str | None) -> CleanDocument:
    """The text an index keeps of a page (top level: worker processes run it)."""
    return clean_document(body, content_type, url, charset, fast=True)
