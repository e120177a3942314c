"""A named executor of daemon threads: started as calls need them, then reused.

Model calls (`agent.generation`, `agent.read_ahead`) run on one of these per backend
(`executor_of`) instead of a new thread per call. Not `ThreadPoolExecutor`: its threads are
joined when the interpreter exits, so one model call stalled in a backend would keep the CLI
(or a test run) from ever ending.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from runtime import Runtime

T = TypeVar("T")

#: Model calls of one backend that can run at once (a remote server takes many; a local model
#: serialises its own). A stalled call holds its worker until the backend returns.
MAX_CALLS_PER_BACKEND = 32


class Workers:
    """At most `most` daemon threads named `name-N` running submitted calls; a call waits
    in line while all of them are busy."""

    def __init__(self, name: str, most: int) -> None:
        self.name = name
        self.most = most
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # released by each worker that waits for a call
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        return len(self._threads)

    def submit(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(call())
            except BaseException as exc:  # noqa: BLE001 - the future carries it to the caller
                future.set_exception(exc)

        self._calls.put(run)
        with self._lock:
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.most:
                thread = threading.Thread(
                    target=self._serve, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _serve(self) -> None:
        while True:
            self._calls.get()()
            self._idle.release()


_EXECUTORS: weakref.WeakKeyDictionary[Runtime, Workers] = weakref.WeakKeyDictionary()
_EXECUTORS_LOCK = threading.Lock()


def executor_of(runtime: Runtime) -> Workers:
    """The executor the model calls of `runtime` run on, made on its first call."""
    with _EXECUTORS_LOCK:
        executor = _EXECUTORS.get(runtime)
        if executor is None:
            executor = _EXECUTORS[runtime] = Workers("model-call", MAX_CALLS_PER_BACKEND)
        return executor
