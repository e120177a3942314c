"""Per-user limits: questions per minute and answers in progress at once, per process.

Over a limit is refused at once (never queued), so one user cannot fill the shared turn
slots and starve the others. The local user of an install without accounts is not limited:
it is the whole install. With replicas each process counts on its own, so a user's effective
ceiling is the limit times the replicas the proxy spreads them over.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from core.errors import MegrezSearchError
from store import LOCAL_USER

WINDOW_S = 60.0
#: When to try again with all answer slots taken: answers take seconds, and none is waited for.
BUSY_RETRY_S = 5


class LimitExceeded(MegrezSearchError):
    """A user asked too often or has too many answers in progress; try again shortly.

    `retry_after_s` is the one wait: the message says it, and the API's `Retry-After` sends it.
    """

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(f"{reason}; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Slot:
    """One answer in progress; `release()` (idempotent) frees it."""

    def __init__(self, release: Callable[[], None] | None = None) -> None:
        self._release = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class UserLimits:
    def __init__(
        self,
        requests_per_minute: int,
        concurrent_turns: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.requests_per_minute = requests_per_minute
        self.concurrent_turns = concurrent_turns
        self._clock = clock
        self._recent: dict[str, deque[float]] = {}
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, user: str) -> Slot:
        """A slot for one answer of `user`, or `LimitExceeded` saying which limit and when."""
        if user == LOCAL_USER:
            return Slot()
        now = self._clock()
        with self._lock:
            recent = self._recent.setdefault(user, deque())
            while recent and now - recent[0] >= WINDOW_S:
                recent.popleft()
            if self.requests_per_minute and len(recent) >= self.requests_per_minute:
                wait = max(1, math.ceil(WINDOW_S - (now - recent[0])))
                raise LimitExceeded(
                    f"rate limit: {self.requests_per_minute} questions per minute", wait
                )
            running = self._running.get(user, 0)
            if self.concurrent_turns and running >= self.concurrent_turns:
                raise LimitExceeded(
                    f"limit: {self.concurrent_turns} answers in progress at once, "
                    "wait for one to finish",
                    BUSY_RETRY_S,
                )
            recent.append(now)
            self._running[user] = running + 1
        return Slot(lambda: self._done(user))

    def _done(self, user: str) -> None:
        with self._lock:
            self._running[user] -= 1
