"""Reading the answer prompt's known part while the search runs.

On a CPU an answer waits mostly for the model to read its prompt. What comes before the
passages (the system prompt, the conversation, and in Megrez's protocol the question and its
keywords) is known once the query is written: a background call has the backend read it
while the search and the fetches run, so when the passages arrive only they and what
follows remain to read. The answer prompt is built as it will be, with `MARKER` in place of
the passages; the backend reads up to the line that holds it.

The answer waits for the reading to end (it holds the model, and it is the answer's own
work); Stop ends it at its next piece. A failure only costs the answer that reading.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from agent.state import Context
from agent.workers import executor_of
from runtime import Message, Runtime
from runtime.prefill_progress import reporting_prefill

log = logging.getLogger(__name__)

#: Stands for the passages in the prompt read ahead; never reaches the model.
MARKER = "\u27e6passages\u27e7"
#: The passages as the prompt read ahead has them: one source whose title and text are the
#: marker (the first source is always number 1).
PLACEHOLDER = (Context(n=1, url="", title=MARKER, text=MARKER),)


class _Stopped(Exception):
    """Raised at the reading's next piece once the turn is stopped."""


@dataclass
class Reading:
    """One turn's reading ahead: its call on the backend's executor and the time its prompt
    was written with (the answer uses that same time, so its prompt starts like the one
    read)."""

    now: datetime
    call: concurrent.futures.Future[None]


@dataclass
class ReadAheads:
    """The readings in progress, one per run id."""

    _runs: dict[str, Reading] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(
        self,
        run_id: str,
        runtime: Runtime,
        now: datetime,
        messages: Callable[[datetime], list[Message]],
        cancel: threading.Event,
    ) -> None:
        """Read `messages(now)` up to `MARKER` in the background for run `run_id`."""

        def stop_when_cancelled(done: int, total: int) -> None:
            if cancel.is_set():
                raise _Stopped

        def work() -> None:
            with reporting_prefill(stop_when_cancelled):
                try:
                    runtime.prefill(messages(now), MARKER)
                except _Stopped:
                    log.info("reading ahead stopped with the turn")
                except Exception:  # the answer reads its whole prompt itself
                    log.warning("reading the answer prompt ahead failed", exc_info=True)

        with self._lock:  # registered before it runs: the answer always finds it
            self._runs[run_id] = Reading(now, executor_of(runtime).submit(work))

    def finish(self, run_id: str, timeout_s: float) -> datetime | None:
        """Wait (at most `timeout_s`) for run `run_id`'s reading; the time its prompt was
        written with, or None when it read nothing ahead."""
        with self._lock:
            reading = self._runs.pop(run_id, None)
        if reading is None:
            return None
        concurrent.futures.wait([reading.call], timeout=timeout_s)
        return reading.now

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)
