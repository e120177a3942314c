"""Streaming a generation that must run in a worker thread (Megrez-3B-Omni's `model.chat`).

The worker pushes text into a per-request streamer; the caller iterates this object for
stop-scanned chunks. Waking the caller for every token is what makes a worker thread slow:
on an H200 it cut decode from 52.8 to 18.2 tokens/s, the two threads fighting over the GIL at
every token. So the streamer hands text over at most every `interval_s` (the first piece at
once, for time to first token): the caller still sees a smooth stream, waking a few dozen
times a second instead of once per token.

When the caller stops early (a stop string, or it closes the stream), the streamer raises
inside the worker at its next token, so the generation ends there instead of running to
`max_new_tokens`; any other exception of the worker is re-raised in the caller's thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .base import ModelCallError
from .text_stream import StopScanner

#: Longest a piece of generated text waits in the worker before the caller is woken for it.
HANDOFF_INTERVAL_S = 0.03


class GenerationCancelled(Exception):
    """Raised inside the worker's generation once its caller has gone."""


def coalescing_streamer(
    tokenizer: Any, cancelled: threading.Event, interval_s: float = HANDOFF_INTERVAL_S
) -> Any:
    """A `TextIteratorStreamer` (special tokens kept) that batches its wake-ups and raises
    `GenerationCancelled` from `put` once `cancelled` is set."""
    from transformers import TextIteratorStreamer

    class _CoalescingStreamer(TextIteratorStreamer):
        def __init__(self) -> None:
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=False, timeout=300)
            self.puts = 0
            self.handoffs = 0
            self._held: list[str] = []
            self._last_handoff = -float("inf")

        def put(self, value: Any) -> None:
            if cancelled.is_set():
                raise GenerationCancelled
            self.puts += 1
            super().put(value)  # type: ignore[no-untyped-call]

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                self._held.append(text)
            now = time.monotonic()
            if self._held and (stream_end or now - self._last_handoff >= interval_s):
                self.text_queue.put("".join(self._held), timeout=self.timeout)
                self._held.clear()
                self._last_handoff = now
                self.handoffs += 1
            if stream_end:
                self.text_queue.put(self.stop_signal, timeout=self.timeout)

    return _CoalescingStreamer()


class WorkerStream:
    def __init__(
        self,
        tokenizer: Any,
        work: Callable[[Any], Any],
        scanner: StopScanner,
        failure_prefix: str,
        interval_s: float = HANDOFF_INTERVAL_S,
    ) -> None:
        self.cancelled = threading.Event()
        self.streamer = coalescing_streamer(tokenizer, self.cancelled, interval_s)
        self.result: Any = None
        self._scanner = scanner
        self._failure_prefix = failure_prefix
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._run, args=(work,), daemon=True)

    def _run(self, work: Callable[[Any], Any]) -> None:
        try:
            self.result = work(self.streamer)
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            # Once the caller has gone, the generation's end (our own exception or whatever
            # the remote code made of it) is nobody's error.
            if not self.cancelled.is_set():
                self._error = exc
            self.streamer.end()

    def __iter__(self) -> Iterator[str]:
        self._worker.start()
        try:
            for piece in self.streamer:
                chunk = self._scanner.feed(piece)
                if chunk:
                    yield chunk
                if self._scanner.stopped:
                    break
            tail = self._scanner.flush()
            if tail:
                yield tail
        finally:
            self.cancelled.set()
            self._worker.join()
            if self._error is not None:
                raise ModelCallError(f"{self._failure_prefix}: {self._error}") from self._error
