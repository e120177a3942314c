"""Citation markers: one normal form, whatever form the model cites in.

Models cite in different forms (Megrez `[citation:3]`, generic `[3]`, `[1, 2]`); the UI and
the API see one form, `[N]`, and the checker (agent/citations.py) reads the numbers. Code is
never a citation: `x[0]` and a bracket inside `code` stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# `[3]`, `[citation:3]`, `[ citation: 3 ]`, `[1, 2]`, `[citation:1, citation:2]`. Not `x[0]`:
# a bracket glued to a letter/underscore is code indexing, not a citation.
_NUMBER = r"\s*(?:citation\s*:\s*)?(\d{1,3})\s*"
CITATION_RE = re.compile(rf"(?<![A-Za-z_])\[(?P<body>{_NUMBER}(?:,{_NUMBER})*)\]", re.IGNORECASE)
_BODY_NUMBER_RE = re.compile(r"\d{1,3}")
# Code is never a citation: fenced blocks (an unclosed fence runs to the end) and `spans`.
_CODE_SPAN_RE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)


def _code_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _CODE_SPAN_RE.finditer(text)]


def iter_citations(text: str) -> Iterator[re.Match[str]]:
    """Citation markers of `text`, skipping those inside `code spans`."""
    spans = _code_spans(text)
    for match in CITATION_RE.finditer(text):
        if not any(start <= match.start() < end for start, end in spans):
            yield match


def marker_numbers(match: re.Match[str]) -> list[int]:
    return [int(number) for number in _BODY_NUMBER_RE.findall(match.group("body"))]


def normalize_citations(text: str) -> str:
    """Every citation marker in the one form `[N]` (`[1, 2]` becomes `[1][2]`)."""
    parts: list[str] = []
    last = 0
    for match in iter_citations(text):
        parts.append(text[last : match.start()])
        parts.append("".join(f"[{n}]" for n in marker_numbers(match)))
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


def cited_numbers(text: str) -> list[int]:
    """The distinct numbers cited in `text`, in order of first appearance."""
    seen: dict[int, None] = {}
    for match in iter_citations(text):
        for number in marker_numbers(match):
            seen.setdefault(number, None)
    return list(seen)


def strip_citations(text: str) -> str:
    """`text` without citation markers (for history turns and support scoring)."""
    parts: list[str] = []
    last = 0
    for match in iter_citations(text):
        parts.append(text[last : match.start()].rstrip(" "))
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


class CitationStreamNormalizer:
    """Normalises citation markers in a token stream without waiting for the whole answer.

    Text is passed through at once except after an unclosed `[`, which is held back until
    the bracket closes (or grows too long to be a citation).
    """

    _MAX_HELD = 40

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        open_at = text.rfind("[")
        if open_at >= 0 and "]" not in text[open_at:] and len(text) - open_at < self._MAX_HELD:
            self._held = text[open_at:]
            text = text[:open_at]
        else:
            self._held = ""
        return normalize_citations(text)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return normalize_citations(text)
