"""Login throttling: failed sign-ins slow down per account and per client address.

Every attempt counts as a failure until it succeeds (so parallel guesses cannot all slip in
before the first one fails). After `free_failures` failures of one account, each further
attempt must wait 1 s, then 2, 4, … up to `max_wait_s` since the last one ended; a client address
gets `ADDRESS_FACTOR` times as many free failures (an office behind one NAT shares it). A
refused attempt is answered at once and never hashes a password, so a flood costs no CPU.
Failures are forgotten after `FORGET_AFTER_S` of quiet; a success clears its account's.
Counts are per process, like the per-user limits.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import MegrezSearchError

ADDRESS_FACTOR = 4
FORGET_AFTER_S = 15 * 60.0
MAX_TRACKED = 100_000  # keys kept at most; beyond it the quiet ones are dropped first


class LoginThrottled(MegrezSearchError):
    """Too many failed sign-ins for this account or from this address; `wait_s` to wait."""

    def __init__(self, wait_s: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {wait_s} s")
        self.wait_s = wait_s


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    def __init__(
        self,
        free_failures: int = 5,
        max_wait_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def attempt(self, account: str, address: str) -> None:
        """Admit one sign-in attempt (counted as failed until `succeeded`), or raise
        `LoginThrottled` saying how long to wait."""
        keys = (("account", account.strip().lower()), ("address", address))
        now = self._clock()
        with self._lock:
            for key in keys:
                entry = self._failures.get(key)
                if entry is not None and now - entry.last > FORGET_AFTER_S:
                    del self._failures[key]
            if len(self._failures) >= MAX_TRACKED:
                self._forget()
            wait = max(self._wait(key, now) for key in keys)
            if wait > 0:
                raise LoginThrottled(max(1, math.ceil(wait)))
            for key in keys:
                entry = self._failures.setdefault(key, _Failures(0, now))
                entry.count, entry.last = entry.count + 1, now

    def failed(self, account: str, address: str) -> None:
        """The attempt was wrong: the wait runs from now (hashing it took a while)."""
        now = self._clock()
        with self._lock:
            for key in (("account", account.strip().lower()), ("address", address)):
                entry = self._failures.get(key)
                if entry is not None:
                    entry.last = now

    def succeeded(self, account: str, address: str) -> None:
        """The attempt was right: its account starts afresh and the address gets it back."""
        with self._lock:
            self._failures.pop(("account", account.strip().lower()), None)
            entry = self._failures.get(("address", address))
            if entry is not None:
                entry.count = max(0, entry.count - 1)

    def _wait(self, key: tuple[str, str], now: float) -> float:
        entry = self._failures.get(key)
        if entry is None:
            return 0.0
        free = self.free_failures * (ADDRESS_FACTOR if key[0] == "address" else 1)
        over = entry.count - free
        if over < 0:
            return 0.0
        return min(self.max_wait_s, 2.0**over) - (now - entry.last)

    def _forget(self) -> None:
        """Bound the memory a spray of made-up names could take: drop the quiet half."""
        stale = sorted(self._failures, key=lambda key: self._failures[key].last)
        for key in stale[: len(stale) // 2]:
            del self._failures[key]
