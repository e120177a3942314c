"""The one measure both prompt caches key on: how many leading tokens two sequences share.

Its own module because the llama.cpp state cache must not import the transformers prefix
cache (which imports torch) to use it.
"""

from __future__ import annotations

from collections.abc import Iterable


def common_prefix(a: Iterable[int], b: Iterable[int]) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count
