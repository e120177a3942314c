"""One quantity in two units: "900 seconds (15 minutes)", "0.1 seconds" for "100 milliseconds".

An answer often restates the passage's number in a friendlier unit, beside it or instead of
it. The restated number is not a new claim: it stands or falls with the number the passage
gives, so the support check places that one. Two quantities are the same when their values
agree in one base unit (seconds, bytes); sizes count in powers of 1000 and of 1024 alike, as
documentation writes "KB" for both.
"""

from __future__ import annotations

import re
from collections import defaultdict

#: Unit words (English, singular or plural, and Chinese) -> (dimension, size in base units).
_UNITS: dict[str, tuple[str, tuple[float, ...]]] = {}


def _add(dimension: str, sizes: tuple[float, ...], *names: str) -> None:
    for name in names:
        _UNITS[name] = (dimension, sizes)


_add("time", (0.001,), "ms", "millisecond", "milliseconds", "毫秒")
_add("time", (0.1,), "decisecond", "deciseconds")
_add("time", (1.0,), "s", "sec", "secs", "second", "seconds", "秒", "秒钟")
_add("time", (60.0,), "min", "mins", "minute", "minutes", "分钟")
_add("time", (3600.0,), "h", "hr", "hrs", "hour", "hours", "小时", "个小时")
_add("time", (86400.0,), "day", "days", "天")
_add("time", (604800.0,), "week", "weeks", "周", "星期")
_add("size", (1.0,), "b", "byte", "bytes", "字节")
_add("size", (1e3, 2.0**10), "kb", "kib", "kilobyte", "kilobytes", "千字节")
_add("size", (1e6, 2.0**20), "mb", "mib", "megabyte", "megabytes", "兆字节")
_add("size", (1e9, 2.0**30), "gb", "gib", "gigabyte", "gigabytes")

_ASCII_UNITS = "|".join(sorted((u for u in _UNITS if u.isascii()), key=len, reverse=True))
_CJK_UNITS = "|".join(sorted((u for u in _UNITS if not u.isascii()), key=len, reverse=True))
_QUANTITY_RE = re.compile(
    rf"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:({_ASCII_UNITS})\b|({_CJK_UNITS}))", re.IGNORECASE
)


def _quantities(text: str) -> list[tuple[str, str, tuple[float, ...]]]:
    """(number, dimension, its value in base units under each reading of the unit)."""
    found = []
    for match in _QUANTITY_RE.finditer(text):
        number, unit = match.group(1), (match.group(2) or match.group(3)).lower()
        dimension, sizes = _UNITS[unit]
        found.append((number, dimension, tuple(float(number) * size for size in sizes)))
    return found


def equivalents(sentence: str, passage: str = "") -> dict[str, set[str]]:
    """Each number of `sentence` (digits) that it or `passage` also states in another unit
    -> those numbers: "900 seconds (15 minutes)" -> {"15": {"900"}, "900": {"15"}}; "0.1
    seconds" over a passage's "100 milliseconds" -> {"0.1": {"100"}}."""
    claimed = _quantities(sentence)
    if not claimed:  # most sentences: the passage need not be read
        return {}
    stated = claimed + _quantities(passage)
    same: defaultdict[str, set[str]] = defaultdict(set)
    for number, dimension, values in claimed:
        for other, other_dimension, other_values in stated:
            if other != number and other_dimension == dimension and _agree(values, other_values):
                same[number].add(other)
    return dict(same)


def _agree(values: tuple[float, ...], others: tuple[float, ...]) -> bool:
    return any(abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0) for a in values for b in others)
