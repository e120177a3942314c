"""Progress of a long prompt evaluation, reported to whoever is waiting for the first token.

On a CPU the answer step spends most of its time reading the sources (about 90 prompt
tokens/s for the 1.5B default on two cores: 11 s for 1,000 tokens) before the first token
appears. A backend that evaluates a prompt in pieces calls `report_prefill` after each;
the caller that wants to show it wraps the generation in `reporting_prefill(callback)`. A
context variable carries the callback, so backends need no extra parameter, and concurrent
requests (each in its own thread) each see only their own callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class ReadingStopped(Exception):
    """Raised by a callback to end the reading at this report: nobody waits for it any more.
    Backends let it through as it is (not as a failed call)."""


#: (prompt tokens evaluated so far, prompt tokens to evaluate in all)
PrefillCallback = Callable[[int, int], None]

_callback: ContextVar[PrefillCallback | None] = ContextVar("prefill_callback", default=None)
_piece_tokens: ContextVar[int | None] = ContextVar("prefill_piece_tokens", default=None)


@contextmanager
def reporting_prefill(callback: PrefillCallback, piece_tokens: int | None = None) -> Iterator[None]:
    """Send the prompt evaluations run inside this block (this thread) to `callback`, after
    each piece of `piece_tokens` (the backend's own size when None). A background call asks
    for small pieces: its callback can end it at each, so a question waits for one piece."""
    token = _callback.set(callback)
    pieces = _piece_tokens.set(piece_tokens)
    try:
        yield
    finally:
        _piece_tokens.reset(pieces)
        _callback.reset(token)


def prefill_wanted() -> bool:
    return _callback.get() is not None


def prefill_piece_tokens(default: int) -> int:
    """How many prompt tokens to evaluate between two reports."""
    return _piece_tokens.get() or default


def report_prefill(done: int, total: int) -> None:
    callback = _callback.get()
    if callback is not None:
        callback(done, total)
