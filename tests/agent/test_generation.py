"""The agent's model calls (`agent.generation`): what a backend reports while it reads a long
prompt reaches the caller, in the caller's own thread, before the answer's first chunk."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import cast

from megrez_search.agent.generation import generate

from megrez_search.runtime import Message, Runtime, Sampling, Usage
from megrez_search.runtime.prefill_progress import report_prefill


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


def test_prefill_reports_reach_the_caller_in_order_and_in_its_thread() -> None:
    backend = ReadingBackend()
    heard: list[object] = []

    def on_prefill(done: int, total: int) -> None:
        heard.append((done, total, threading.get_ident()))

    chunks = generate(
        cast(Runtime, backend),
        [Message("user", "Capital of France?")],
        Sampling(max_tokens=4),
        Usage(),
        stall_timeout_s=30,
        on_prefill=on_prefill,
    )
    heard.extend(chunks)  # each report is heard before the chunks after it are taken
    me = threading.get_ident()
    assert heard == [(128, 200, me), (200, 200, me), "Paris"]
    assert backend.thread is not None and backend.thread != me  # the model ran in a worker


def test_without_a_listener_the_reports_go_nowhere() -> None:
    chunks = generate(
        cast(Runtime, ReadingBackend()),
        [Message("user", "Capital of France?")],
        Sampling(max_tokens=4),
        Usage(),
        stall_timeout_s=30,
    )
    assert list(chunks) == ["Paris"]
    report_prefill(1, 2)  # outside any generation: no listener, nothing happens
