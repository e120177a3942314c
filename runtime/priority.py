"""Foreground and background model calls: an optional call gives way to a user's question.

A model serves one call at a time (llama.cpp holds a lock for the whole call), so a
follow-up suggestion still being written would make the next question wait for it. The
agent marks each turn as foreground for as long as it runs; a background call checks
`give_way` before it starts and at every token or prefill piece, and ends there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ModelPriority:
    """Counts the foreground work (turns) in progress on one model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._foreground = 0

    @contextmanager
    def foreground(self) -> Iterator[None]:
        with self._lock:
            self._foreground += 1
        try:
            yield
        finally:
            with self._lock:
                self._foreground -= 1

    @property
    def give_way(self) -> bool:
        """True while any foreground work runs or waits: background calls stop."""
        return self._foreground > 0
