"""One SQL interface over SQLite and PostgreSQL, with the app's schema migrations.

The app's own tables are small and use portable SQL; statements are written with `?`
placeholders and translated for psycopg. LangGraph's checkpointer for the same database comes
from `Database.checkpointer()` (its own tables, created by its own `setup()`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from core.errors import MegrezSearchError
from core.settings import StoreSettings
from store.text import check_storable

Row = tuple[Any, ...]

#: (version, statements); applied in order, each version once, recorded in megrez_schema. A
#: statement that differs between the backends is a dict of them by `Database.kind`.
MIGRATIONS: tuple[tuple[int, tuple[str | dict[str, str], ...]], ...] = (
    (
        1,
        (
            (
                "CREATE TABLE IF NOT EXISTS megrez_threads (thread_id TEXT PRIMARY KEY, "
                "title TEXT, created_at TEXT, updated_at TEXT, turns INTEGER DEFAULT 0)"
            ),
        ),
    ),
    (
        2,
        (
            "ALTER TABLE megrez_threads ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE megrez_threads ADD COLUMN public_id TEXT",
            "UPDATE megrez_threads SET public_id = thread_id WHERE public_id IS NULL",
            "CREATE INDEX IF NOT EXISTS megrez_threads_owner ON megrez_threads (owner, updated_at)",
        ),
    ),
    (
        3,
        (
            (
                "CREATE TABLE IF NOT EXISTS megrez_users (name TEXT PRIMARY KEY, "
                "password_hash TEXT NOT NULL, created_at TEXT NOT NULL)"
            ),
            (
                "CREATE TABLE IF NOT EXISTS megrez_api_keys (key_id TEXT PRIMARY KEY, "
                "owner TEXT NOT NULL, secret_hash TEXT NOT NULL, label TEXT NOT NULL DEFAULT '', "
                "created_at TEXT NOT NULL, revoked_at TEXT)"
            ),
            "CREATE INDEX IF NOT EXISTS megrez_api_keys_owner ON megrez_api_keys (owner)",
        ),
    ),
    (
        4,
        (
            # One writer per conversation across processes (agent.turn_lock).
            (
                "CREATE TABLE IF NOT EXISTS megrez_turn_locks (thread_id TEXT PRIMARY KEY, "
                "owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, "
                "expires_at DOUBLE PRECISION NOT NULL)"
            ),
        ),
    ),
    (
        5,
        (
            # An account's data is keyed by an immutable id, not by its name, so a name freed
            # by `users remove` gives a new account none of the old one's conversations.
            # Existing accounts keep their name as id (their data is keyed by it already);
            # new ids are upper-case, which no name is, so no new account takes an old id.
            "ALTER TABLE megrez_users ADD COLUMN user_id TEXT",
            "UPDATE megrez_users SET user_id = name WHERE user_id IS NULL",
            "CREATE UNIQUE INDEX IF NOT EXISTS megrez_users_user_id ON megrez_users (user_id)",
            # Sessions are bound to it; `users passwd` draws a new one, ending them.
            "ALTER TABLE megrez_users ADD COLUMN session_stamp TEXT NOT NULL DEFAULT ''",
        ),
    ),
    (
        6,
        (
            # The model a chat last used, beside its row, so replicas on one database agree
            # (it lived in each UI process's own ui.sqlite before; ui/chats.py imports it).
            "ALTER TABLE megrez_threads ADD COLUMN model TEXT",
        ),
    ),
    (
        7,
        (
            # A deleted chat is hidden first and purged when its undo window ends (ui.sidebar).
            "ALTER TABLE megrez_threads ADD COLUMN deleted_at TEXT",
        ),
    ),
    (
        8,
        (
            # Files given as sources (store.documents): private to their owner,
            # in one chat (chat_id) or in one of the owner's named collections.
            (
                "CREATE TABLE IF NOT EXISTS megrez_collections (owner TEXT NOT NULL, "
                "name TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (owner, name))"
            ),
            {
                kind: (
                    "CREATE TABLE IF NOT EXISTS megrez_documents (doc_id TEXT PRIMARY KEY, "
                    "owner TEXT NOT NULL, chat_id TEXT, collection TEXT, name TEXT NOT NULL, "
                    "kind TEXT NOT NULL, pages INTEGER NOT NULL, size INTEGER NOT NULL, "
                    f"sha256 TEXT NOT NULL, data {blob} NOT NULL, created_at TEXT NOT NULL)"
                )
                for kind, blob in (("sqlite", "BLOB"), ("postgres", "BYTEA"))
            },
            "CREATE INDEX IF NOT EXISTS megrez_documents_chat ON megrez_documents (owner, chat_id)",
            (
                "CREATE INDEX IF NOT EXISTS megrez_documents_collection ON megrez_documents "
                "(owner, collection)"
            ),
            (
                "CREATE TABLE IF NOT EXISTS megrez_document_passages (doc_id TEXT NOT NULL, "
                "seq INTEGER NOT NULL, page INTEGER, heading TEXT NOT NULL, text TEXT NOT NULL, "
                "terms TEXT NOT NULL, PRIMARY KEY (doc_id, seq))"
            ),
            {
                "sqlite": (
                    "CREATE VIRTUAL TABLE IF NOT EXISTS megrez_passages_fts USING fts5(terms, "
                    "doc_id UNINDEXED, seq UNINDEXED, tokenize = 'porter unicode61')"
                ),
                "postgres": (
                    "CREATE INDEX IF NOT EXISTS megrez_passages_terms ON megrez_document_passages "
                    "USING GIN (to_tsvector('english', terms))"
                ),
            },
        ),
    ),
    (
        9,
        (
            # The collections a chat searches, beside its row like its model, so replicas on
            # one database agree (they lived in each UI process's own ui.sqlite before).
            (
                "CREATE TABLE IF NOT EXISTS megrez_chat_collections (thread_id TEXT NOT NULL, "
                "owner TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (thread_id, name))"
            ),
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
_MIGRATION_LOCK = 0x6D6567726570  # pg_advisory_lock key: replicas starting together migrate once


class DatabaseError(MegrezSearchError):
    """The database cannot be opened or its schema is newer than this version of the app."""


def _checked(params: Sequence[Any]) -> tuple[Any, ...]:
    """The parameters, each text among them storable (`UnstorableTextError` otherwise)."""
    for param in params:
        if isinstance(param, str):
            check_storable(param, "text")
    return tuple(params)


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Database:
    """The app's tables in SQLite or PostgreSQL; `transaction()` groups statements atomically."""

    kind: Literal["sqlite", "postgres"]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as cursor:
            return cursor.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def checkpointer(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def migrate(self) -> None:
        with self.transaction() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS megrez_schema (version INTEGER NOT NULL)")
            rows = cursor.execute("SELECT MAX(version) FROM megrez_schema")
            current = rows[0][0] or 0
            if current > SCHEMA_VERSION:
                raise DatabaseError(
                    f"the database schema is version {current}, newer than this app's "
                    f"{SCHEMA_VERSION}: upgrade megrez-search"
                )
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                for statement in statements:
                    cursor.execute(
                        statement if isinstance(statement, str) else statement[self.kind]
                    )
                cursor.execute("INSERT INTO megrez_schema (version) VALUES (?)", (version,))


class _SqliteCursor:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, _checked(params)).fetchall()


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # The checkpointer gets its own connection (below): LangGraph locks it itself.
        self._saver_conn = sqlite3.connect(path, check_same_thread=False)
        # WAL lets readers (the UI's history, other processes) proceed during a commit, and
        # NORMAL sync keeps the many small checkpoint commits of concurrent turns cheap while
        # staying durable across application crashes.
        self._saver_conn.execute("PRAGMA journal_mode=WAL")
        self._saver_conn.execute("PRAGMA synchronous=NORMAL")
        from langgraph.checkpoint.sqlite import SqliteSaver

        self._saver = SqliteSaver(self._saver_conn)
        # Set up now, before any other connection opens the file: switching it to WAL needs
        # the database to itself, and later readers and writers then never block each other.
        self._saver.setup()
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.isolation_level = None  # transactions are explicit, below
        self._lock = threading.Lock()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if sql.lstrip().upper().startswith("SELECT"):
            # A lone read needs no write lock: other processes' writers are not held up.
            with self._lock:
                return self._conn.execute(sql, _checked(params)).fetchall()
        return super().execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        # IMMEDIATE: a transaction that reads and then writes takes the write lock up front,
        # so two processes never deadlock upgrading their read locks (SQLITE_BUSY).
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteCursor(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def checkpointer(self) -> Any:
        return self._saver

    def close(self) -> None:
        self._conn.close()
        self._saver_conn.close()


class _PostgresCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cursor.execute(sql.replace("?", "%s"), _checked(params))
        return list(self._cursor.fetchall()) if self._cursor.description else []


class PostgresDatabase(Database):
    kind = "postgres"

    def __init__(self, url: str, pool_size: int) -> None:
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        # LangGraph's PostgresSaver needs autocommit connections that return dict rows;
        # prepare_threshold=None keeps it working behind poolers such as PgBouncer.
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(2, pool_size),
            kwargs={"autocommit": True, "prepare_threshold": None, "row_factory": dict_row},
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except Exception as exc:
            self._pool.close()
            raise DatabaseError(f"cannot connect to the database: {exc}") from exc
        from langgraph.checkpoint.postgres import PostgresSaver

        self._saver = PostgresSaver(self._pool)  # type: ignore[arg-type]

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        from psycopg.rows import tuple_row

        with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as cursor,
        ):
            yield _PostgresCursor(cursor)

    def migrate(self) -> None:
        # Replicas starting at once take turns: one creates the tables, the others find them.
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                super().migrate()
                self._saver.setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    def checkpointer(self) -> Any:
        return self._saver

    def close(self) -> None:
        self._pool.close()


def open_database(settings: StoreSettings) -> Database:
    """The configured database, its schema created and migrated."""
    url = settings.database_url.get_secret_value().strip()
    database: Database
    if not url:
        database = SqliteDatabase(settings.conversations_path)
    elif url.startswith(("postgresql://", "postgres://")):
        database = PostgresDatabase(url, settings.database_pool_size)
    else:
        raise DatabaseError("MEGREZ_DATABASE_URL must start with postgresql:// (or be empty)")
    try:
        database.migrate()
    except BaseException:
        database.close()
        raise
    return database
