"""KV caches of recent sequences, kept so the next prompt that starts the same way reuses them.

The steps of one turn (decide, then answer) and the turns of one conversation share their
system prompt and history: a new prompt takes the stored cache with the longest common prefix,
crops it to that prefix and evaluates only the rest — what llama.cpp does with its one slot,
here with a few slots so concurrent conversations do not evict each other at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import kv_cache
from .token_prefix import common_prefix

#: Stored caches. Each costs its tokens x 160 KiB on Megrez-3B (bf16): 4 x 2k tokens ~ 1.3 GB.
SLOTS = 4


@dataclass
class _Entry:
    ids: list[int]
    cache: Any


class PrefixCache:
    """Not thread-safe: the scheduler calls it under its model lock."""

    def __init__(self, slots: int = SLOTS) -> None:
        self._slots = slots
        self._entries: list[_Entry] = []

    def take(self, prompt: list[int]) -> tuple[Any | None, int]:
        """The cache of the longest stored prefix of `prompt`, cropped, and its length.

        At least the prompt's last token is left to evaluate, so the caller gets its logits.
        An entry the prompt extends leaves the store (the caller grows its cache in place and
        puts the longer one back); one that goes on differently stays, and the caller gets a
        copy of the shared part — the next step of the other conversation still needs it.
        """
        best, best_length = None, 0
        for entry in self._entries:
            shared = common_prefix(entry.ids, prompt)
            if shared > best_length:
                best, best_length = entry, shared
        usable = min(best_length, len(prompt) - 1)
        if best is None or usable <= 0:
            return None, 0
        if usable < len(best.ids):
            return kv_cache.head(best.cache, usable), usable
        self._entries.remove(best)
        return best.cache, usable

    def put(self, ids: list[int], cache: Any) -> None:
        if not ids:
            return
        # An entry that is a prefix of the new one adds nothing the new one cannot serve.
        self._entries = [e for e in self._entries if common_prefix(e.ids, ids) < len(e.ids)]
        self._entries.append(_Entry(list(ids), cache))
        del self._entries[: -self._slots]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
