"""Runaway generations: a repetition loop noticed while the answer streams, and cut.

Small models at temperature 0 fall into loops — the same list items again and again, or
one phrase repeated until the token limit. `LoopGuard` watches the text as it arrives and
reports a loop as soon as it is sure of one:

* a line (list numbering ignored) written for the third time: the answer is kept up to the
  start of its second occurrence, so a repeated block of lines is kept once;
* the text ending in the same run of words at least three times over (at least
  `MIN_LOOP_WORDS` words in all): the answer is kept up to the end of the first run.
"""

from __future__ import annotations

import re

#: A line must have this many characters (once normalised) to count as a repeat.
MIN_LINE_CHARS = 12
#: Three repeats of a word run must cover this many words to count as a loop.
MIN_LOOP_WORDS = 18
#: The longest word run (in words) looked for.
MAX_PERIOD_WORDS = 40
#: How many times a line or run must be written to be a loop.
REPEATS = 3

_NUMBERING = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[a-z][.)])\s*", re.IGNORECASE)
_WORD = re.compile(r"\S+")


def _normalise_line(line: str) -> str:
    return " ".join(_NUMBERING.sub("", line).lower().split())


class LoopGuard:
    """Feed streamed text; `cut` is the answer's length once a loop is found, else None."""

    def __init__(self) -> None:
        self.text = ""
        self.cut: int | None = None
        self._line_start = 0  # offset of the line being written
        self._seen: dict[str, list[int]] = {}  # normalised line -> offsets of its occurrences

    @property
    def looped(self) -> bool:
        return self.cut is not None

    def feed(self, chunk: str) -> None:
        if self.looped or not chunk:
            return
        self.text += chunk
        self._check_lines()
        if not self.looped:
            self._check_runs()

    def answer(self) -> str:
        """The text up to the loop (all of it when there was none)."""
        return self.text if self.cut is None else self.text[: self.cut].rstrip()

    def _check_lines(self) -> None:
        while (end := self.text.find("\n", self._line_start)) >= 0:
            start, self._line_start = self._line_start, end + 1
            key = _normalise_line(self.text[start:end])
            if len(key) < MIN_LINE_CHARS:
                continue
            offsets = self._seen.setdefault(key, [])
            offsets.append(start)
            if len(offsets) >= REPEATS:
                self.cut = offsets[1]
                return

    def _check_runs(self) -> None:
        window = self.text[-4000:]
        base = len(self.text) - len(window)
        words = list(_WORD.finditer(window))
        tokens = [w.group().lower() for w in words]
        # Smallest period first, so "very very very …" keeps one "very", not six.
        for period in range(1, min(MAX_PERIOD_WORDS, len(tokens) // REPEATS) + 1):
            run = tokens[-period:]
            copies = 1
            while (copies + 1) * period <= len(tokens) and (
                tokens[len(tokens) - (copies + 1) * period : len(tokens) - copies * period] == run
            ):
                copies += 1
            if copies >= REPEATS and copies * period >= MIN_LOOP_WORDS:
                first_end = words[len(tokens) - (copies - 1) * period - 1]
                self.cut = base + first_end.end()
                return
