"""One writer per conversation across processes: a lease row per thread in the store.

The in-process lock of `SearchAgent` only orders the turns of one process; the UI and the API
(or two API workers) on one data dir are two processes, and a turn reads the conversation at
its start and writes it at its end, so two overlapping turns would each write their own
continuation and one would be lost. A turn therefore holds a lease on its thread in the
database itself. `TurnLock` is the small interface the agent uses; `DatabaseTurnLock` keeps
the leases in the conversation store (SQLite or PostgreSQL), so replicas on one database take
turns too.

A lease names its owner (host, process, run) and expires unless renewed, so a process killed
mid-answer blocks its conversation for at most `turn_lease_s` (at once, when the dead process
was on this host).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from core.errors import MegrezSearchError
from store.database import Database, Row

log = logging.getLogger(__name__)

_POLL_S = 0.05  # how often a waiting turn looks at the lease again


class ThreadBusyError(MegrezSearchError):
    """Another turn (of this process or another) is still writing this conversation."""

    def __init__(
        self,
        message: str = "this conversation is busy: another answer is still being written in "
        "it; try again when it has finished",
    ) -> None:
        super().__init__(message)


class ThreadLocks:
    """This process's turn of each conversation: one lock per conversation while a turn holds
    or waits for it, dropped when the last one lets go (no entry outlives its turns)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}  # key -> (lock, users)

    def __len__(self) -> int:
        """Conversations with a turn holding or waiting for their lock."""
        with self._guard:
            return len(self._locks)

    def _let_go(self, key: str) -> None:
        with self._guard:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    @contextmanager
    def hold(self, key: str, wait_s: float) -> Iterator[None]:
        """Hold `key`'s lock, waited for at most `wait_s` (`ThreadBusyError` after that)."""
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            if not lock.acquire(timeout=wait_s):
                raise ThreadBusyError()
        except BaseException:
            self._let_go(key)
            raise
        try:
            yield
        finally:
            lock.release()
            self._let_go(key)


class TurnLock(Protocol):
    """Leases on conversations; `hold` is the whole interface the agent uses."""

    def hold(self, thread_id: str, run_id: str) -> AbstractContextManager[Callable[[], None]]:
        """Wait for, then hold, the lease of `thread_id` for one turn (`ThreadBusyError` if it
        stays taken); the context value is a `keep_alive` the turn calls as it progresses."""

    def close(self) -> None: ...


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class DatabaseTurnLock:
    """Leases in the store's `megrez_turn_locks` table, SQLite or PostgreSQL alike.

    Taking a lease is a compare-and-swap: the upsert only replaces the holder it saw, so two
    processes that both saw the lease free cannot both take it (PostgreSQL re-checks the
    condition on the locked row; SQLite runs the transaction alone).
    """

    def __init__(
        self,
        database: Database,
        lease_s: float,
        wait_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.clock = clock
        self._db = database
        self._host = socket.gethostname()

    def _held_by_other(self, row: Row | None, owner: str) -> bool:
        if row is None:
            return False
        holder, host, pid, expires_at = row
        if holder == owner or expires_at <= self.clock():
            return False
        if host == self._host and not _pid_alive(pid):
            log.warning("taking over the lease of a dead process (pid %d)", pid)
            return False
        return True

    def try_acquire(self, thread_id: str, owner: str) -> bool:
        """Take the lease if it is free, expired or ours; False if another writer holds it."""
        with self._db.transaction() as cursor:
            rows = cursor.execute(
                "SELECT owner, host, pid, expires_at FROM megrez_turn_locks WHERE thread_id = ?",
                (thread_id,),
            )
            seen = rows[0] if rows else None
            if self._held_by_other(seen, owner):
                return False
            cursor.execute(
                "INSERT INTO megrez_turn_locks (thread_id, owner, host, pid, expires_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
                "owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
                "expires_at = excluded.expires_at WHERE megrez_turn_locks.owner = ?",
                (
                    thread_id,
                    owner,
                    self._host,
                    os.getpid(),
                    self.clock() + self.lease_s,
                    seen[0] if seen else "",
                ),
            )
            held = cursor.execute(
                "SELECT owner FROM megrez_turn_locks WHERE thread_id = ?", (thread_id,)
            )
        return bool(held) and held[0][0] == owner

    def acquire(self, thread_id: str, owner: str) -> None:
        """Wait up to `wait_s` for the lease; raises `ThreadBusyError` after that."""
        deadline = time.monotonic() + self.wait_s
        waited = threading.Event()  # never set: a timed wait that no signal cuts short
        while not self.try_acquire(thread_id, owner):
            if time.monotonic() >= deadline:
                raise ThreadBusyError()
            waited.wait(_POLL_S)

    def renew(self, thread_id: str, owner: str) -> None:
        self._db.execute(
            "UPDATE megrez_turn_locks SET expires_at = ? WHERE thread_id = ? AND owner = ?",
            (self.clock() + self.lease_s, thread_id, owner),
        )

    def release(self, thread_id: str, owner: str) -> None:
        self._db.execute(
            "DELETE FROM megrez_turn_locks WHERE thread_id = ? AND owner = ?",
            (thread_id, owner),
        )

    @contextmanager
    def hold(self, thread_id: str, run_id: str) -> Iterator[Callable[[], None]]:
        """Hold the lease for one turn; yields `keep_alive`, to call as the turn progresses."""
        owner = f"{self._host}:{os.getpid()}:{run_id}"
        self.acquire(thread_id, owner)
        renewed = time.monotonic()

        def keep_alive() -> None:
            nonlocal renewed
            if time.monotonic() - renewed > self.lease_s / 3:
                self.renew(thread_id, owner)
                renewed = time.monotonic()

        try:
            yield keep_alive
        finally:
            try:
                self.release(thread_id, owner)
            except Exception:  # the lease then expires by itself
                log.warning("could not release the lease on %s", thread_id, exc_info=True)

    def close(self) -> None:
        """Nothing of its own to close: the store's database is closed with the store."""
