"""File names from uploads and folders: a name, never a path."""

from __future__ import annotations

import unicodedata

from retrieval.errors import DocumentNameError

MAX_NAME_CHARS = 200


def checked_name(filename: str) -> str:
    """`filename` if it is a plain file name; `DocumentNameError` for a path ('../x.pdf',
    '/etc/x', 'C:\\x'), control characters (NUL included), nothing or too long a name."""
    name = filename.strip()
    shown = repr(filename[:60])
    if not name or name in {".", ".."}:
        raise DocumentNameError(f"the file name {shown} is empty; give the file a name")
    if any(unicodedata.category(char) in {"Cc", "Cf"} for char in name):
        raise DocumentNameError(f"the file name {shown} holds control characters; rename it")
    if "/" in name or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise DocumentNameError(
            f"the file name {shown} is a path; give the file's own name (e.g. 'report.pdf')"
        )
    if len(name) > MAX_NAME_CHARS:
        raise DocumentNameError(f"the file name is over {MAX_NAME_CHARS} characters; shorten it")
    return name
