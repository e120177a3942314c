"""Word lists kept as data beside the agent's modules (stop words, small talk, opposites)."""

from __future__ import annotations

from importlib.resources import files


def word_list(filename: str) -> frozenset[str]:
    """A word list kept as data beside this module: one word a line, `#` starts a comment."""
    text = files("agent").joinpath(filename).read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
