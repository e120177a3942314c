"""Saved llama.cpp sequence states, kept so a prompt that starts like an earlier one skips it.

llama.cpp has one context: it can only reuse the prefix a new prompt shares with the call just
before. A question runs decide (system prompt S1) then answer (S2), so the next decide finds
S2 in the context and evaluates S1 again. This store keeps the KV cache of a few recent
prompts, keyed by their tokens; a new prompt loads the one with the longest shared prefix,
crops it there and evaluates only the rest.

What is saved is the sequence's KV cache right after its prompt was evaluated (no logits, no
sampler state: the caller always evaluates at least the last token again). A state costs
about its tokens x (layers x 2 x kv_heads x head_dim x 2 bytes): ~28 KiB a token on
Qwen2.5-1.5B, so the byte bound matters more than the entry count on big models.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .token_prefix import common_prefix

#: The one sequence llama-cpp-python's `Llama.eval` decodes into.
SEQUENCE = 0


#: A new state replaces an older one it shares all but this many of its last tokens with
#: (a quarter of them, for a long one; never more than half): see `supersedes`.
SIBLING_TAIL_TOKENS = 32


def supersedes(new: Sequence[int], old: Sequence[int]) -> bool:
    """Whether a state saved for `new` makes the one saved for `old` worth nothing more.

    True when `new` extends `old`, and when the two differ only in a short tail (the same
    system prompt with another question). Each question saves one state per kind of call
    (decide, query translation, answer, ...); kept side by side, the decide step's states
    of past questions pushed the translation's out of the cache, and every Chinese question
    read the translation's 200-token examples again (2 s). The newer sibling serves the
    shared prefix as well; what only the older one served is a repeat of its own question.
    A long shared history with a long tail of its own (another user's conversation, an
    answer's passages) is kept.
    """
    tail = len(old) - common_prefix(old, new)
    return tail <= min(max(SIBLING_TAIL_TOKENS, len(old) // 4), len(old) // 2)


@dataclass(frozen=True)
class SavedState:
    tokens: tuple[int, ...]
    data: ctypes.Array[ctypes.c_uint8]

    @property
    def nbytes(self) -> int:
        return len(self.data)


class StateCache:
    """An LRU of saved states bounded in entries and bytes. Not thread-safe: the backend
    calls it under its model lock."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, ...], SavedState] = OrderedDict()

    def longest(self, tokens: Sequence[int]) -> tuple[SavedState | None, int]:
        """The entry sharing the longest prefix with `tokens` (now most recently used)."""
        best: SavedState | None = None
        best_length = 0
        for state in self._entries.values():
            shared = common_prefix(state.tokens, tokens)
            if shared > best_length:
                best, best_length = state, shared
        if best is not None:
            self._entries.move_to_end(best.tokens)
        return best, best_length

    def wants(self, tokens: Sequence[int]) -> bool:
        """Whether saving a state for `tokens` would add anything: not when an entry starts
        with them already (that entry is touched instead)."""
        key = tuple(tokens)
        for stored in self._entries:
            if common_prefix(stored, key) == len(key):
                self._entries.move_to_end(stored)
                return False
        return self.max_entries > 0 and len(key) > 0

    def put(self, state: SavedState) -> bool:
        """Store `state` in place of the entries it supersedes, evicting the least recently
        used; False when it alone is too big."""
        if self.max_entries <= 0 or state.nbytes > self.max_bytes:
            return False
        for key in [k for k in self._entries if supersedes(state.tokens, k)]:
            del self._entries[key]
        self._entries[state.tokens] = state
        while len(self._entries) > self.max_entries or self.nbytes > self.max_bytes:
            self._entries.popitem(last=False)
        return True

    @property
    def nbytes(self) -> int:
        return sum(state.nbytes for state in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# --- llama.cpp I/O ------------------------------------------------------------------------


def save(llama_cpp: Any, ctx: Any, tokens: Sequence[int]) -> SavedState | None:
    """The KV cache of the sequence now in `ctx`, which must hold exactly `tokens`."""
    size = int(llama_cpp.llama_state_seq_get_size(ctx, SEQUENCE))
    if size <= 0:
        return None
    data = (ctypes.c_uint8 * size)()
    written = int(llama_cpp.llama_state_seq_get_data(ctx, data, size, SEQUENCE))
    if written <= 0 or written > size:
        return None
    if written < size:
        # `ctypes.resize` cannot shrink below the allocation; a copy keeps the byte count true.
        compact = (ctypes.c_uint8 * written)()
        ctypes.memmove(compact, data, written)
        data = compact
    return SavedState(tuple(tokens), data)


def load(llama_cpp: Any, ctx: Any, state: SavedState) -> bool:
    """Replace the sequence in `ctx` by `state`'s; False (and an unknown sequence) on failure."""
    return int(llama_cpp.llama_state_seq_set_data(ctx, state.data, state.nbytes, SEQUENCE)) > 0
