"""The conversation index: who owns which conversation, for the past-chats list.

Conversation ids are per user: the checkpointer's key of user `alice`'s thread `t1` is
`alice:t1`, so another user's thread id is simply one that does not exist for you (using it
starts a new conversation of your own), and nothing can be opened across users by guessing.
The local user of a zero-config install (`LOCAL_USER`, no accounts) keeps bare ids, as before.

A row is written after a turn is recorded in the checkpointer, with the count of questions
read back from it: a turn killed before its end (it is then absent from the conversation) lists
nothing and counts nothing, and a count that a crash between the two writes left behind is
set right by the conversation's next turn. A conversation with no question is not listed.
The row also keeps the model the chat last used (the UI's per-chat picker), and a small table
beside it the collections the chat searches: only its owner's, and only those that still exist.

Deleting is undoable for a while: `hide` takes a conversation off the list (its checkpoint
and row stay), `restore` brings it back, and `expired` names the hidden ones whose undo window
has ended, which the caller then deletes for good. A later turn neither lists nor hides it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import MegrezSearchError
from store.database import Database

LOCAL_USER = ""  # the one user of an install without accounts; no account name is empty
_THREAD_ID = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


class ThreadIdError(MegrezSearchError):
    """A client-given conversation id with characters or a length the store does not accept."""


@dataclass(frozen=True)
class ThreadInfo:
    thread_id: str
    title: str  # the first question
    created_at: str
    updated_at: str
    turns: int  # questions asked


def check_thread_id(thread_id: str) -> str:
    if not _THREAD_ID.fullmatch(thread_id):
        raise ThreadIdError(
            "thread_id must be 1-128 letters, digits, '-', '_' or '.', not " + repr(thread_id[:40])
        )
    return thread_id


def thread_key(user: str, thread_id: str) -> str:
    """The checkpointer's key of `user`'s conversation `thread_id`."""
    check_thread_id(thread_id)
    return f"{user}:{thread_id}" if user else thread_id


class ThreadIndex:
    """A small table of conversations beside the checkpoints, one row per (owner, thread)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(self, user: str, thread_id: str, title: str, turns: int, now: str) -> None:
        """`user`'s `thread_id` holds `turns` questions (read from its checkpoint) as of `now`.

        The title is the one it was first listed with.
        """
        self._db.execute(
            "INSERT INTO megrez_threads (thread_id, title, created_at, updated_at, turns, owner, "
            "public_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
            "updated_at = excluded.updated_at, turns = excluded.turns, "
            "title = COALESCE(megrez_threads.title, excluded.title)",
            (thread_key(user, thread_id), title[:120], now, now, turns, user, thread_id),
        )

    def model(self, user: str, thread_id: str) -> str | None:
        """The model `user`'s `thread_id` last used (None: never chosen)."""
        rows = self._db.execute(
            "SELECT model FROM megrez_threads WHERE thread_id = ?", (thread_key(user, thread_id),)
        )
        return str(rows[0][0]) if rows and rows[0][0] else None

    def set_model(self, user: str, thread_id: str, model: str, now: str) -> None:
        """Remember the chat's model; a chat not recorded yet gets an unlisted row (no turns,
        no title: its first recorded turn gives it one)."""
        self._db.execute(
            "INSERT INTO megrez_threads (thread_id, title, created_at, updated_at, turns, owner, "
            "public_id, model) VALUES (?, NULL, ?, ?, 0, ?, ?, ?) ON CONFLICT (thread_id) "
            "DO UPDATE SET model = excluded.model",
            (thread_key(user, thread_id), now, now, user, thread_id, model),
        )

    def collections(self, user: str, thread_id: str) -> list[str]:
        """The collections `user`'s `thread_id` searches: theirs that still exist, by name."""
        rows = self._db.execute(
            "SELECT used.name FROM megrez_chat_collections used JOIN megrez_collections c "
            "ON c.owner = used.owner AND c.name = used.name WHERE used.thread_id = ? "
            "ORDER BY used.name",
            (thread_key(user, thread_id),),
        )
        return [str(name) for (name,) in rows]

    def set_collections(self, user: str, thread_id: str, names: Iterable[str]) -> None:
        """Make `names` the collections the chat searches; a name that is not one of `user`'s
        collections is left out, so a chat never names another user's."""
        key = thread_key(user, thread_id)
        with self._db.transaction() as cursor:
            cursor.execute("DELETE FROM megrez_chat_collections WHERE thread_id = ?", (key,))
            for name in dict.fromkeys(names):
                cursor.execute(
                    "INSERT INTO megrez_chat_collections (thread_id, owner, name) "
                    "SELECT ?, owner, name FROM megrez_collections WHERE owner = ? AND name = ?",
                    (key, user, name),
                )

    def list(self, user: str) -> list[ThreadInfo]:
        rows = self._db.execute(
            "SELECT public_id, title, created_at, updated_at, turns FROM megrez_threads "
            "WHERE owner = ? AND turns > 0 AND deleted_at IS NULL ORDER BY updated_at DESC",
            (user,),
        )
        return [ThreadInfo(*row) for row in rows]

    def delete(self, user: str, thread_id: str) -> None:
        key = thread_key(user, thread_id)
        with self._db.transaction() as cursor:
            cursor.execute("DELETE FROM megrez_threads WHERE thread_id = ?", (key,))
            cursor.execute("DELETE FROM megrez_chat_collections WHERE thread_id = ?", (key,))

    def rename(self, user: str, thread_id: str, title: str) -> bool:
        """Give `user`'s listed `thread_id` a new title; False when no such chat is listed."""
        rows = self._db.execute(
            "UPDATE megrez_threads SET title = ? WHERE thread_id = ? AND deleted_at IS NULL "
            "RETURNING thread_id",
            (title[:120], thread_key(user, thread_id)),
        )
        return bool(rows)

    def hide(self, user: str, thread_id: str, now: str) -> bool:
        """Take `user`'s `thread_id` off the list as of `now`, keeping it to be restored."""
        rows = self._db.execute(
            "UPDATE megrez_threads SET deleted_at = ? WHERE thread_id = ? AND deleted_at IS NULL "
            "RETURNING thread_id",
            (now, thread_key(user, thread_id)),
        )
        return bool(rows)

    def restore(self, user: str, thread_id: str) -> bool:
        """List a hidden conversation again; False when it is not hidden (or purged)."""
        rows = self._db.execute(
            "UPDATE megrez_threads SET deleted_at = NULL WHERE thread_id = ? "
            "AND deleted_at IS NOT NULL RETURNING thread_id",
            (thread_key(user, thread_id),),
        )
        return bool(rows)

    def expired(self, before: str) -> tuple[tuple[str, str], ...]:
        """(owner, thread id) of every conversation hidden before `before`, to purge."""
        rows = self._db.execute(
            "SELECT owner, public_id FROM megrez_threads WHERE deleted_at IS NOT NULL "
            "AND deleted_at < ?",
            (before,),
        )
        return tuple((str(owner), str(public_id)) for owner, public_id in rows)
