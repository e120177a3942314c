"""This process's per-conversation locks: one turn at a time, and none kept once idle."""

from __future__ import annotations

import pytest

from agent.turn_lock import ThreadBusyError, ThreadLocks


def test_a_conversation_lock_is_dropped_when_its_turns_end() -> None:
    locks = ThreadLocks()
    for n in range(100):
        with locks.hold(f"thread-{n}", wait_s=0):
            assert len(locks) == 1
    assert len(locks) == 0  # the old dict kept one lock per conversation ever seen


def test_a_second_turn_of_a_conversation_waits_then_gives_up() -> None:
    locks = ThreadLocks()
    with locks.hold("busy", wait_s=0), locks.hold("other", wait_s=0):
        assert len(locks) == 2
        with pytest.raises(ThreadBusyError), locks.hold("busy", wait_s=0):
            pass
        assert len(locks) == 2  # the refused turn leaves nothing behind
    assert len(locks) == 0
    with locks.hold("busy", wait_s=0):  # free again
        pass
