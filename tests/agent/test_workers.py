"""`agent.workers`: a named executor of daemon threads, started as needed and reused."""

from __future__ import annotations

import threading

import pytest

from agent.workers import Workers


def test_calls_reuse_idle_threads_and_queue_beyond_the_most() -> None:
    workers = Workers("test-call", most=2)
    release = threading.Event()
    started: list[str] = []
    both_started = threading.Barrier(3)

    def blocking() -> str:
        started.append(threading.current_thread().name)
        both_started.wait(10)
        release.wait(10)
        return threading.current_thread().name

    first, second = workers.submit(blocking), workers.submit(blocking)
    both_started.wait(10)  # two calls run at once, on two threads
    third = workers.submit(lambda: threading.current_thread().name)
    assert workers.threads == 2  # the third waits in line instead of starting a third thread
    assert not third.done()
    release.set()
    names = {first.result(10), second.result(10), third.result(10)}
    assert names == {"test-call-0", "test-call-1"}
    assert workers.submit(lambda: 1).result(10) == 1
    assert workers.threads == 2  # idle threads took the later calls


def test_a_failure_reaches_the_caller() -> None:
    def fail() -> None:
        raise ValueError("backend broke")

    with pytest.raises(ValueError, match="backend broke"):
        Workers("test-fail", most=1).submit(fail).result(10)
