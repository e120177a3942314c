"""Renaming and undoable deleting in the conversation index, on SQLite and PostgreSQL."""

from __future__ import annotations

from core.settings import Settings
from store import ThreadIndex, open_database

EARLY = "2026-01-02T09:30:00.000000"
LATER = "2026-01-02T09:30:10.000000"


def test_rename_hide_restore_and_expire(store_settings: Settings) -> None:
    database = open_database(store_settings.store)
    try:
        index = ThreadIndex(database)
        index.record("alice", "t1", "First question?", 1, EARLY)
        index.record("alice", "t2", "Second question?", 1, EARLY)
        index.record("bob", "t1", "Bob's question?", 1, EARLY)

        assert index.rename("alice", "t1", "Lists, renamed")
        assert not index.rename("alice", "nope", "x")  # no such chat
        index.record("alice", "t1", "First question?", 2, LATER)  # a turn keeps the new name
        assert [t.title for t in index.list("alice")] == ["Lists, renamed", "Second question?"]
        assert [t.title for t in index.list("bob")] == ["Bob's question?"]  # his own t1

        assert index.hide("alice", "t1", EARLY)
        assert not index.hide("alice", "t1", EARLY)  # already hidden
        assert [t.thread_id for t in index.list("alice")] == ["t2"]
        assert index.list("bob") != []  # Bob's t1 is another chat
        assert index.expired(EARLY) == () and index.expired(LATER) == (("alice", "t1"),)
        assert not index.rename("alice", "t1", "x")  # hidden: nothing to rename

        assert index.restore("alice", "t1") and not index.restore("alice", "t1")
        assert [t.title for t in index.list("alice")] == ["Lists, renamed", "Second question?"]
        assert index.expired(LATER) == ()
    finally:
        database.close()
