"""Streaming a generation that runs in a worker thread (transformers `generate`, Omni `chat`).

The worker pushes text into a per-request `TextIteratorStreamer`; the caller iterates this
object for stop-scanned chunks. When the caller stops early (a stop string, or it closes the
stream), `cancelled` is set so the generation can end at its next token instead of running
to `max_new_tokens`; the worker's exception, if any, is re-raised in the caller's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from .base import ModelCallError
from .text_stream import StopScanner


class WorkerStream:
    def __init__(
        self,
        streamer: Any,
        work: Callable[[threading.Event], Any],
        scanner: StopScanner,
        failure_prefix: str,
    ) -> None:
        self.cancelled = threading.Event()
        self.result: Any = None
        self._streamer = streamer
        self._scanner = scanner
        self._failure_prefix = failure_prefix
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._run, args=(work,), daemon=True)

    def _run(self, work: Callable[[threading.Event], Any]) -> None:
        try:
            self.result = work(self.cancelled)
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = exc
            self._streamer.end()

    def __iter__(self) -> Iterator[str]:
        self._worker.start()
        try:
            for piece in self._streamer:
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


def cancel_criteria(cancelled: threading.Event) -> Any:
    """A transformers `StoppingCriteriaList` that ends generation once `cancelled` is set."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _StopWhenCancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            return cancelled.is_set()

    return StoppingCriteriaList([_StopWhenCancelled()])
