"""Model calls as the agent makes them: streamed, stoppable, and failing clearly.

The backend's token iterator runs on the backend's executor (one per runtime, its worker
threads reused from call to call, `agent.workers`) and hands chunks over a queue, so the
agent can (1) notice a backend that stalls (no chunk for `model_stall_timeout_s`) instead of
hanging with it, (2) stop generation when the user presses stop, and (3) turn whatever a
backend raises into one `ModelCallError` whose message fits in a chat bubble.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from agent.citation_marks import CitationStreamNormalizer
from agent.events import TokenEvent
from agent.workers import executor_of
from core.errors import MegrezSearchError
from runtime import Message, ModelCallError, Runtime, Sampling, Usage
from runtime.prefill_progress import PrefillCallback, ReadingStopped, reporting_prefill

log = logging.getLogger(__name__)

_DONE = object()
#: How long a caller that leaves early (stop, a loop cut) waits for the model call to end at
#: its next token, so that the call's token usage is counted; a stalled call is not awaited.
WIND_DOWN_S = 1.0
#: A background call reads its prompt in pieces this long, and a question that comes in
#: waits for the piece being read: 32 tokens are ~0.35 s at the 1.5B default's ~90 tokens/s
#: on two cores (a turn's own pieces stay at the backend's size, read as fast as a batch).
BACKGROUND_PIECE_TOKENS = 32


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Prefill:
    def __init__(self, done: int, total: int) -> None:
        self.done = done
        self.total = total


class CallerLeft(ReadingStopped):
    """Raised inside the backend, at its next progress report, once nobody waits for it."""


def generate(
    runtime: Runtime,
    messages: Sequence[Message],
    sampling: Sampling,
    usage: Usage,
    *,
    stall_timeout_s: float,
    cancel: threading.Event | None = None,
    on_prefill: PrefillCallback | None = None,
    time_limit_s: float | None = None,
    background: bool = False,
) -> Iterator[str]:
    """Yield the model's text chunks; stop quietly when `cancel` is set or, with
    `time_limit_s`, when that many seconds have passed (the text so far is all there is).

    A `background` call (optional work, such as follow-up suggestions) gives way to any
    turn: it does not start while one runs, and ends at its next token or prefill piece
    once one begins (its pieces are `BACKGROUND_PIECE_TOKENS` long), so a new question
    waits for at most one of those.

    `on_prefill(done, total)` hears, in this thread, how far a backend that reports it
    (llama.cpp) has read a long prompt; a report also counts as a sign of life. When the
    caller has gone (stop pressed, stall), the backend's next report ends its reading, so
    a long prompt stops holding the model within one piece instead of to its end.
    Raises `ModelCallError` when the backend fails or yields nothing for `stall_timeout_s`.
    """
    chunks: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def given_way() -> bool:
        return background and runtime.priority.give_way

    def report(done: int, total: int) -> None:
        if stop.is_set() or given_way():
            raise CallerLeft
        chunks.put(_Prefill(done, total))

    def work() -> None:
        stream: Iterator[str] | None = None
        # The stream runs here: its backend reports in this thread, to `report`.
        with reporting_prefill(report, BACKGROUND_PIECE_TOKENS if background else None):
            try:
                # Inside the try: a backend that fails before its first chunk (preparing an
                # attachment) is reported at once, not taken for a stall.
                if given_way():
                    chunks.put(_DONE)
                    return
                stream = runtime.stream(messages, sampling, usage)
                for chunk in stream:
                    if stop.is_set() or given_way():
                        break
                    chunks.put(chunk)
                chunks.put(_DONE)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
                chunks.put(_Failure(exc))
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()  # a llama.cpp generator stops decoding when closed

    worker = executor_of(runtime).submit(work)
    # Poll in short slices so a stop request is seen promptly even while the model is busy.
    poll_s = min(0.25, stall_timeout_s)
    last_progress = time.monotonic()
    deadline = None if time_limit_s is None else last_progress + time_limit_s
    stalled = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                log.info("generation stopped by the caller")
                return
            if given_way():
                log.info("background model call given up: a question came in")
                return
            if deadline is not None and time.monotonic() >= deadline:
                log.info("generation ended at its time limit (%.1f s)", time_limit_s)
                return
            try:
                item = chunks.get(timeout=poll_s)
            except queue.Empty:
                if time.monotonic() - last_progress < stall_timeout_s:
                    continue
                stalled = True
                raise ModelCallError(
                    f"the model produced nothing for {stall_timeout_s:g} s and was given up; "
                    "try again, or check the model server (MEGREZ_MODEL_STALL_TIMEOUT_S)"
                ) from None
            last_progress = time.monotonic()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                if isinstance(item.exc, CallerLeft):
                    return  # a background call that gave way while the model read its prompt
                raise _as_model_error(item.exc)
            if isinstance(item, _Prefill):
                if on_prefill is not None:
                    on_prefill(item.done, item.total)
                continue
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        if not stalled:
            concurrent.futures.wait([worker], timeout=WIND_DOWN_S)


def stream_tokens(
    runtime: Runtime,
    messages: Sequence[Message],
    sampling: Sampling,
    usage: Usage,
    writer: Callable[[TokenEvent], None],
    *,
    stall_timeout_s: float,
    cancel: threading.Event,
    keep: Callable[[str], bool],
    on_prefill: PrefillCallback | None = None,
) -> None:
    """Stream an answer to `writer` as `TokenEvent`s, citations normalised to `[N]` on the fly.

    `keep(chunk)` sees every chunk first (to record it); False ends the stream there, and
    leaving the loop closes the generator, which stops the model. Raises as `generate`.
    """
    citations = CitationStreamNormalizer()
    for chunk in generate(
        runtime,
        messages,
        sampling,
        usage,
        stall_timeout_s=stall_timeout_s,
        cancel=cancel,
        on_prefill=on_prefill,
    ):
        if not keep(chunk):
            break
        text = citations.feed(chunk)
        if text:
            writer(TokenEvent(text=text))
    rest = citations.flush()
    if rest:
        writer(TokenEvent(text=rest))


def _as_model_error(exc: BaseException) -> MegrezSearchError:
    if isinstance(exc, MegrezSearchError):
        return exc
    log.error("model backend failed", exc_info=exc)
    detail = str(exc) or type(exc).__name__
    return ModelCallError(f"the model failed while answering: {detail}")


def complete(
    runtime: Runtime,
    messages: Sequence[Message],
    sampling: Sampling,
    usage: Usage,
    *,
    stall_timeout_s: float,
    cancel: threading.Event | None = None,
    background: bool = False,
) -> str:
    """The whole text of a model call (`generate`, joined)."""
    return "".join(
        generate(
            runtime,
            messages,
            sampling,
            usage,
            stall_timeout_s=stall_timeout_s,
            cancel=cancel,
            background=background,
        )
    )
