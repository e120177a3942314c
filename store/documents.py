"""`DocumentStore`: files given as sources, private to their owner, and searching them.

A document belongs to one owner (an account's id) and is scoped to one of their chats or to
one of their named collections. Every read and write is keyed by the owner: another owner's
document id is one that does not exist for you. Files, passages and their search terms live in
the app's database (SQLite or PostgreSQL), so they survive restarts and replicas share them.

Search terms are each passage's words, lower-cased, with CJK text written as overlapping
character bigrams (as in the local indexes: CJK has no spaces between words); SQLite searches
them with FTS5 (porter stemming, BM25), PostgreSQL with its full-text search (english
stemming, ts_rank). The agent re-ranks what either returns with the web's passages.
"""

from __future__ import annotations

import builtins
import hashlib
import itertools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from core.errors import MegrezSearchError
from store.database import Cursor, Database

_WORD = re.compile(r"[^\W_]+")
_CJK_RUN = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_COLLECTION = re.compile(r"[^\x00-\x1f\x7f/\\]{1,64}")


class DocumentStoreError(MegrezSearchError):
    """A collection name the store does not accept, or a document given no place."""


class PassageLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def page(self) -> int | None: ...
    @property
    def heading(self) -> str: ...


class DocumentLike(Protocol):
    """What the store keeps of a document (retrieval.documents.Document is one)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def pages(self) -> int: ...
    @property
    def passages(self) -> Sequence[PassageLike]: ...


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    name: str
    kind: str
    pages: int
    size: int
    chat_id: str | None
    collection: str | None
    created_at: str


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    documents: int
    created_at: str


@dataclass(frozen=True)
class StoredFile:
    name: str
    kind: str
    data: bytes


@dataclass(frozen=True)
class DocumentHit:
    """A passage of a document that matched a search, best first."""

    doc_id: str
    name: str  # the file's name
    page: int | None
    heading: str
    text: str
    score: float  # higher is better; comparable within one search only


def search_terms(text: str) -> list[str]:
    """Words lower-cased; a CJK run as its overlapping bigrams (one character alone)."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        at = 0
        for run in _CJK_RUN.finditer(word):
            if run.start() > at:
                terms.append(word[at : run.start()])
            chars = run.group()
            terms.extend(
                [chars] if len(chars) == 1 else [a + b for a, b in itertools.pairwise(chars)]
            )
            at = run.end()
        if at < len(word):
            terms.append(word[at:])
    return terms


def check_collection(name: str) -> str:
    name = name.strip()
    if not _COLLECTION.fullmatch(name):
        raise DocumentStoreError(
            f"invalid collection name {name[:40]!r}: 1-64 characters, no '/', '\\' or "
            "control characters"
        )
    return name


_COLUMNS = "doc_id, name, kind, pages, size, chat_id, collection, created_at"


class DocumentStore:
    """Documents and their passages in the app's database, by owner."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # --- writing ---------------------------------------------------------------------------

    def add(
        self,
        owner: str,
        document: DocumentLike,
        *,
        chat_id: str | None = None,
        collection: str | None = None,
    ) -> str:
        """Store `document` for `owner` in one chat or one collection; returns its id. The same
        file given twice to the same place is stored once (the first id is returned)."""
        if (chat_id is None) == (collection is None):
            raise DocumentStoreError("a document goes into either a chat or a collection")
        if collection is not None:
            collection = check_collection(collection)
        digest = hashlib.sha256(document.data).hexdigest()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.transaction() as cursor:
            same = cursor.execute(
                "SELECT doc_id FROM megrez_documents WHERE owner = ? AND sha256 = ? AND name = ? "
                "AND (chat_id = ? OR collection = ?)",
                (owner, digest, document.name, chat_id, collection),
            )
            if same:
                return str(same[0][0])
            if collection is not None:
                self._ensure_collection(cursor, owner, collection, now)
            doc_id = uuid.uuid4().hex
            cursor.execute(
                f"INSERT INTO megrez_documents ({_COLUMNS}, owner, sha256, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc_id,
                    document.name,
                    document.kind,
                    document.pages,
                    len(document.data),
                    chat_id,
                    collection,
                    now,
                    owner,
                    digest,
                    document.data,
                ),
            )
            for seq, passage in enumerate(document.passages):
                terms = " ".join(search_terms(f"{passage.heading}\n{passage.text}"))
                cursor.execute(
                    "INSERT INTO megrez_document_passages (doc_id, seq, page, heading, text, "
                    "terms) VALUES (?, ?, ?, ?, ?, ?)",
                    (doc_id, seq, passage.page, passage.heading, passage.text, terms),
                )
                if self._db.kind == "sqlite":
                    cursor.execute(
                        "INSERT INTO megrez_passages_fts (terms, doc_id, seq) VALUES (?, ?, ?)",
                        (terms, doc_id, seq),
                    )
        return doc_id

    def create_collection(self, owner: str, name: str) -> str:
        name = check_collection(name)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.transaction() as cursor:
            self._ensure_collection(cursor, owner, name, now)
        return name

    @staticmethod
    def _ensure_collection(cursor: Cursor, owner: str, name: str, now: str) -> None:
        cursor.execute(
            "INSERT INTO megrez_collections (owner, name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (owner, name) DO NOTHING",
            (owner, name, now),
        )

    def remove(self, owner: str, doc_id: str) -> bool:
        """Delete `owner`'s document `doc_id`; False when they have none of that id."""
        with self._db.transaction() as cursor:
            found = cursor.execute(
                "SELECT doc_id FROM megrez_documents WHERE owner = ? AND doc_id = ?",
                (owner, doc_id),
            )
            if found:
                self._delete(cursor, [doc_id])
        return bool(found)

    def remove_collection(self, owner: str, name: str) -> int:
        """Delete `owner`'s collection `name` and its documents; returns how many."""
        with self._db.transaction() as cursor:
            rows = cursor.execute(
                "SELECT doc_id FROM megrez_documents WHERE owner = ? AND collection = ?",
                (owner, name),
            )
            self._delete(cursor, [str(row[0]) for row in rows])
            for table in ("megrez_collections", "megrez_chat_collections"):
                cursor.execute(f"DELETE FROM {table} WHERE owner = ? AND name = ?", (owner, name))
        return len(rows)

    def remove_chat(self, owner: str, chat_id: str) -> int:
        """Delete the documents of `owner`'s chat `chat_id` (the chat was deleted)."""
        with self._db.transaction() as cursor:
            rows = cursor.execute(
                "SELECT doc_id FROM megrez_documents WHERE owner = ? AND chat_id = ?",
                (owner, chat_id),
            )
            self._delete(cursor, [str(row[0]) for row in rows])
        return len(rows)

    def _delete(self, cursor: Cursor, doc_ids: builtins.list[str]) -> None:
        for doc_id in doc_ids:
            if self._db.kind == "sqlite":
                cursor.execute("DELETE FROM megrez_passages_fts WHERE doc_id = ?", (doc_id,))
            cursor.execute("DELETE FROM megrez_document_passages WHERE doc_id = ?", (doc_id,))
            cursor.execute("DELETE FROM megrez_documents WHERE doc_id = ?", (doc_id,))

    # --- reading ---------------------------------------------------------------------------

    def list(
        self, owner: str, *, chat_id: str | None = None, collection: str | None = None
    ) -> builtins.list[DocumentInfo]:
        """`owner`'s documents: of one chat, of one collection, or all of them."""
        sql = f"SELECT {_COLUMNS} FROM megrez_documents WHERE owner = ?"
        params: builtins.list[object] = [owner]
        if chat_id is not None:
            sql += " AND chat_id = ?"
            params.append(chat_id)
        if collection is not None:
            sql += " AND collection = ?"
            params.append(collection)
        rows = self._db.execute(sql + " ORDER BY created_at, name", params)
        return [DocumentInfo(*row) for row in rows]

    def collections(self, owner: str) -> builtins.list[CollectionInfo]:
        rows = self._db.execute(
            "SELECT c.name, COUNT(d.doc_id), c.created_at FROM megrez_collections c "
            "LEFT JOIN megrez_documents d ON d.owner = c.owner AND d.collection = c.name "
            "WHERE c.owner = ? GROUP BY c.name, c.created_at ORDER BY c.name",
            (owner,),
        )
        return [CollectionInfo(str(name), int(count), str(at)) for name, count, at in rows]

    def check_collections(self, owner: str, names: Sequence[str]) -> None:
        """`DocumentStoreError` naming the first of `names` that is not `owner`'s."""
        if not names:
            return
        known = {info.name for info in self.collections(owner)}
        for name in names:
            if name not in known:
                yours = ", ".join(sorted(known)) or "none yet"
                raise DocumentStoreError(f"no collection named {name[:64]!r} (yours: {yours})")

    def file_bytes(self, owner: str, doc_id: str) -> StoredFile | None:
        """The file as given, for its owner only (None: no such document of theirs)."""
        rows = self._db.execute(
            "SELECT name, kind, data FROM megrez_documents WHERE owner = ? AND doc_id = ?",
            (owner, doc_id),
        )
        return StoredFile(str(rows[0][0]), str(rows[0][1]), bytes(rows[0][2])) if rows else None

    def page_text(self, owner: str, doc_id: str, page: int | None) -> tuple[str, str] | None:
        """(file name, Markdown text) of page `page` of `owner`'s document (None: its whole
        text, for files without pages); None when they have no such document or page."""
        rows = self._db.execute(
            "SELECT d.name, p.heading, p.text FROM megrez_document_passages p "
            "JOIN megrez_documents d ON d.doc_id = p.doc_id WHERE d.owner = ? AND d.doc_id = ? "
            + ("AND p.page = ? " if page is not None else "")
            + "ORDER BY p.seq",
            [owner, doc_id, *([page] if page is not None else [])],
        )
        if not rows:
            return None
        parts: list[str] = []
        heading = ""
        for _name, passage_heading, text in rows:
            if passage_heading and passage_heading != heading:
                parts.append(f"## {str(passage_heading).split(' > ')[-1]}")
            heading = str(passage_heading)
            parts.append(str(text))
        return str(rows[0][0]), "\n\n".join(parts)

    def has_documents(
        self, owner: str, *, chat_id: str | None = None, collections: Sequence[str] = ()
    ) -> bool:
        scope, params = _scope(chat_id, collections)
        if not scope:
            return False
        rows = self._db.execute(
            f"SELECT 1 FROM megrez_documents d WHERE d.owner = ? AND ({scope}) LIMIT 1",
            [owner, *params],
        )
        return bool(rows)

    def search(
        self,
        owner: str,
        query: str,
        *,
        chat_id: str | None = None,
        collections: Sequence[str] = (),
        limit: int = 20,
    ) -> builtins.list[DocumentHit]:
        """`owner`'s passages in chat `chat_id` and in `collections` that match `query`."""
        scope, params = _scope(chat_id, collections)
        terms = list(dict.fromkeys(search_terms(query)))
        if not scope or not terms:
            return []
        columns = "d.doc_id, d.name, p.page, p.heading, p.text"
        if self._db.kind == "sqlite":
            rows = self._db.execute(
                f"SELECT {columns}, -bm25(megrez_passages_fts) FROM megrez_passages_fts f "
                "JOIN megrez_document_passages p ON p.doc_id = f.doc_id AND p.seq = f.seq "
                "JOIN megrez_documents d ON d.doc_id = p.doc_id "
                f"WHERE megrez_passages_fts MATCH ? AND d.owner = ? AND ({scope}) "
                f"ORDER BY bm25(megrez_passages_fts) LIMIT {int(limit)}",
                [" OR ".join(f'"{term}"' for term in terms), owner, *params],
            )
        else:
            rows = self._db.execute(
                f"SELECT {columns}, ts_rank(to_tsvector('english', p.terms), q.query) AS score "
                "FROM megrez_document_passages p "
                "JOIN megrez_documents d ON d.doc_id = p.doc_id, "
                "(SELECT to_tsquery('english', ?) AS query) q "
                f"WHERE to_tsvector('english', p.terms) @@ q.query AND d.owner = ? AND ({scope}) "
                f"ORDER BY score DESC, p.doc_id, p.seq LIMIT {int(limit)}",
                [" | ".join(f"'{term}'" for term in terms), owner, *params],
            )
        return [
            DocumentHit(str(doc_id), str(name), page, str(heading), str(text), float(score))
            for doc_id, name, page, heading, text, score in rows
        ]


def _scope(chat_id: str | None, collections: Sequence[str]) -> tuple[str, list[object]]:
    """The SQL condition on `d` for a chat's documents and some collections' documents."""
    parts: list[str] = []
    params: list[object] = []
    if chat_id is not None:
        parts.append("d.chat_id = ?")
        params.append(chat_id)
    names = list(dict.fromkeys(collections))
    if names:
        parts.append(f"d.collection IN ({', '.join('?' for _ in names)})")
        params.extend(names)
    return " OR ".join(parts), params
