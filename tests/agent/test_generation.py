"""The agent's model calls (`agent.generation`): what a backend reports while it reads a long
prompt reaches the caller, in the caller's own thread, before the answer's first chunk."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest

from agent.generation import CallerLeft, generate
from runtime import Message, ModelCallError, Runtime, Sampling, Usage
from runtime.prefill_progress import report_prefill


class ReadingBackend:
    """Reads its prompt in two pieces (as llama.cpp does with a long one), then answers."""

    def __init__(self) -> None:
        self.thread: int | None = None

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        self.thread = threading.get_ident()
        report_prefill(128, 200)
        report_prefill(200, 200)
        yield "Paris"


def _generate(backend: object, usage: Usage | None = None, **options: Any) -> Iterator[str]:
    """`generate` over a stand-in backend, as the answer node calls it."""
    return generate(
        cast(Runtime, backend),
        [Message("user", "Capital of France?")],
        Sampling(max_tokens=4),
        usage if usage is not None else Usage(),
        stall_timeout_s=30,
        **options,
    )


def test_prefill_reports_reach_the_caller_in_order_and_in_its_thread() -> None:
    backend = ReadingBackend()
    heard: list[object] = []

    def on_prefill(done: int, total: int) -> None:
        heard.append((done, total, threading.get_ident()))

    heard.extend(
        _generate(backend, on_prefill=on_prefill)
    )  # each report is heard before the chunks after it are taken
    me = threading.get_ident()
    assert heard == [(128, 200, me), (200, 200, me), "Paris"]
    assert backend.thread is not None and backend.thread != me  # the model ran in a worker


def test_without_a_listener_the_reports_go_nowhere() -> None:
    assert list(_generate(ReadingBackend())) == ["Paris"]
    report_prefill(1, 2)  # outside any generation: no listener, nothing happens


class LongReader:
    """Reads a prompt in pieces; before its second piece it waits until told to go on."""

    def __init__(self) -> None:
        self.go_on = threading.Event()
        self.finished = threading.Event()
        self.pieces_read = 0
        self.ended_by: BaseException | None = None

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        try:
            for done in (100, 200, 300):
                report_prefill(done, 300)
                self.pieces_read += 1
                self.go_on.wait(timeout=30)
            yield "never reached"
        except BaseException as exc:
            self.ended_by = exc
            raise
        finally:
            self.finished.set()


def test_a_caller_that_stops_ends_the_reading_at_the_next_piece() -> None:
    backend = LongReader()
    cancel = threading.Event()
    # The user presses stop as soon as the reading is reported.
    chunks = _generate(backend, cancel=cancel, on_prefill=lambda done, total: cancel.set())
    assert list(chunks) == []  # stopped quietly
    backend.go_on.set()
    assert backend.finished.wait(timeout=30)
    assert backend.pieces_read == 1  # the second piece was never read
    assert isinstance(backend.ended_by, CallerLeft)


class EndlessWriter:
    """Writes until told to stop; counts its tokens when it ends, as llama.cpp does."""

    def __init__(self) -> None:
        self.first_taken = threading.Event()

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        written = 0
        try:
            yield "Paris"
            written += 1
            self.first_taken.wait(timeout=30)
            while True:
                yield " again"
                written += 1
        finally:
            if usage is not None:
                usage.add(Usage(prompt_tokens=12, completion_tokens=written))


def test_a_caller_that_leaves_early_still_gets_the_token_counts() -> None:
    backend = EndlessWriter()
    usage = Usage()
    chunks = _generate(backend, usage)
    assert next(chunks) == "Paris"
    backend.first_taken.set()
    chunks.close()  # a loop cut or stop: the consumer leaves while the model still writes
    assert usage.prompt_tokens == 12 and usage.completion_tokens >= 1


class FailsBeforeStreaming:
    """Raises when asked to stream, before any generator exists (preparing the messages)."""

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        raise RuntimeError("cannot read the attached image")


def test_a_backend_failing_before_its_first_chunk_is_an_error_not_a_stall() -> None:
    with pytest.raises(ModelCallError, match="cannot read the attached image"):
        list(_generate(FailsBeforeStreaming()))


class NamingBackend:
    """Answers with the name of the thread it runs on."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        self.threads.append(threading.current_thread())
        yield "ok"


def test_a_backends_calls_reuse_its_worker_thread() -> None:
    """No thread per call: the worker of the first call is still there, idle, and runs the
    second; it is a daemon (a stalled call never keeps the process from exiting)."""
    backend, other = NamingBackend(), NamingBackend()
    assert list(_generate(backend)) == ["ok"]
    assert list(_generate(backend)) == ["ok"]
    first, second = backend.threads
    assert first is second and first.is_alive() and first.daemon
    assert first.name.startswith("model-call-")
    assert list(_generate(other)) == ["ok"]
    assert other.threads[0] is not first  # each backend has its own executor
