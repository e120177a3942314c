"""The one check of text bound for the database: valid Unicode without NUL characters.

PostgreSQL's text (and LangGraph's JSONB checkpoints) cannot hold a NUL, and no UTF-8 column
can hold a lone surrogate (what Python makes of bytes that are not UTF-8). SQLite would keep
the first and fail on the second, so the two backends answered the same input differently: a
400 on SQLite, a 500 with a psycopg traceback on PostgreSQL. Every statement's text parameters
pass `check_storable` (store.database), and the client edges (API requests, agent requests,
login) call it first to refuse such text as the client's error.
"""

from __future__ import annotations

from core.errors import MegrezSearchError


class UnstorableTextError(MegrezSearchError):
    """Text with a NUL or a lone surrogate: no database here can store it."""


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode (a lone surrogate at {exc.start})"
    if "\x00" in text:
        return "contains a NUL character"
    return None


def is_storable(text: str) -> bool:
    return unstorable_reason(text) is None


def check_storable(text: str, what: str) -> str:
    """`text`, or `UnstorableTextError` saying what of `what` is wrong."""
    reason = unstorable_reason(text)
    if reason is not None:
        raise UnstorableTextError(f"the {what} {reason}, which cannot be stored")
    return text
