"""The process's one event loop for network I/O, and its pools of clients and caches.

Synchronous callers (the graph's nodes, the CLI, the evaluation) hand their coroutines to one
long-lived loop in one named thread (`run_io`) instead of starting an event loop per call,
and the clients and page caches made on it live as long as the process: a question's fetches
reuse the connections (and TLS sessions) of the questions before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Clients (or caches) kept per pool; the least recently used goes beyond that. A process
#: has one policy of each in production; tests and local indexes make more.
POOL_SIZE = 8


class IOLoop:
    """An event loop running forever in one daemon thread, started on first use."""

    def __init__(self, name: str = "megrez-io") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def in_loop(self) -> bool:
        """Whether the caller runs on this loop's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result (or its exception). The
        caller may run under an event loop of its own (a notebook, an async server's
        worker); never on this loop's thread, which would wait for itself."""
        if self.in_loop():
            coroutine.close()
            raise RuntimeError("run_io() called on the I/O loop itself: await instead")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()  # the caller was interrupted: stop the work it waited for
            raise


IO_LOOP = IOLoop()


def run_io(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the process's I/O loop from synchronous code."""
    return IO_LOOP.run(coroutine)


@dataclass
class _Entry(Generic[R]):
    resource: R
    users: int = 0
    dropped: bool = False


class Pool(Generic[R]):
    """Long-lived resources by key, made on first use, at most `size` of them: the least
    recently used is dropped, and closed once no caller holds it. Used on one event loop
    (its methods do not lock)."""

    def __init__(
        self,
        make: Callable[[Any], R],
        close: Callable[[R], Coroutine[Any, Any, None]] | None = None,
        size: int = POOL_SIZE,
    ) -> None:
        self._make = make
        self._close = close
        self._size = size
        self._entries: OrderedDict[Hashable, _Entry[R]] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[R]:
        """The resource for `key`, kept from being closed while the block runs."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new I/O loop (e.g. in a forked child): start afresh,
            self._entries.clear()  # what was made belongs to the old loop
            self._loop = loop
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(self._make(key))
            while len(self._entries) > max(self._size, 1):  # never the one just made
                _, old = self._entries.popitem(last=False)
                old.dropped = True
                if old.users == 0:
                    await self._release(old)
        self._entries.move_to_end(key)
        entry.users += 1
        try:
            yield entry.resource
        finally:
            entry.users -= 1
            if entry.dropped and entry.users == 0:
                await self._release(entry)

    async def _release(self, entry: _Entry[R]) -> None:
        if self._close is None:
            return
        try:
            await self._close(entry.resource)
        except Exception:  # closing is tidying up: never worth the caller's result
            log.warning("could not close a pooled resource", exc_info=True)
