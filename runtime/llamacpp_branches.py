"""Several continuations of one prompt read in one llama.cpp batch, each on its own sequence.

Scoring the search decision's two reply openings took two passes over the weights: the
question with the first opening, then the second opening alone (~0.13 s of a ~0.6 s
decision on two cores). With a context of two sequences sharing one cache, the question's
new tokens belong to both and each opening to one, so a single pass reads them all and
neither opening sees the other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: The sequence every other call uses; branches past the first use the ones after it.
MAIN = 0


def allow_branches(llm: Any, llama_cpp: ModuleType, sequences: int = 2) -> int:
    """Give `llm` a context of `sequences` sequences over one shared cache (its whole
    `n_ctx` for each, not a share); returns how many it has (1 where this llama.cpp build
    cannot share one cache between sequences, and the old context is kept)."""
    params = llm.context_params
    if "kv_unified" not in {name for name, *_ in type(params)._fields_}:
        return 1
    from llama_cpp import _internals

    n_ctx = llm.n_ctx()
    built_with = params.n_seq_max, params.kv_unified
    params.n_seq_max, params.kv_unified = sequences, True
    try:
        context: Any = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
    except ValueError as exc:  # llama-cpp-python's "Failed to create llama_context"
        log.warning("one sequence only (a context of %d failed: %s)", sequences, exc)
        context = None
    if context is not None and llama_cpp.llama_n_ctx(context.ctx) != n_ctx:
        context.close()
        context = None
    if context is None:
        # The old context stays, and its parameters say what it was built with.
        params.n_seq_max, params.kv_unified = built_with
        return 1
    old, llm._ctx = llm._ctx, context
    old.close()
    return int(llama_cpp.llama_n_seq_max(context.ctx))


def logits_at(llm: Any, llama_cpp: ModuleType, index: int) -> np.ndarray:
    """The logits the last batch computed at its `index` (-1: its last token): a view of
    llama.cpp's buffer, which the next batch overwrites."""
    pointer = llama_cpp.llama_get_logits_ith(llm.ctx, index)
    return np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),))


def read_branches(
    llm: Any, llama_cpp: ModuleType, rest: Sequence[int], branches: Sequence[Sequence[int]]
) -> list[list[np.ndarray]]:
    """Decode `rest` after the context's `llm.n_tokens` and each branch after `rest`, in one
    batch; keep `rest` (on the main sequence) and forget the branches.

    Returns, per branch, the logits after `rest` and after each of the branch's tokens.
    Needs `len(branches)` sequences (`allow_branches`) and one batch's room for them all.
    """
    n_past = llm.n_tokens
    context = llm._ctx
    batch = llm._batch.batch
    sequences = list(range(MAIN, MAIN + len(branches)))
    context.kv_cache_seq_rm(-1, n_past, -1)
    for sequence in sequences[1:]:
        # Each branch's sequence continues the main one's cached prompt (shared cells).
        context.kv_cache_seq_cp(MAIN, sequence, 0, n_past)
    size = 0

    def add(token: int, position: int, owners: Sequence[int], logits: bool) -> None:
        nonlocal size
        batch.token[size] = token
        batch.pos[size] = position
        batch.n_seq_id[size] = len(owners)
        for slot, owner in enumerate(owners):
            batch.seq_id[size][slot] = owner
        batch.logits[size] = logits
        size += 1

    for offset, token in enumerate(rest):
        add(token, n_past + offset, sequences, offset == len(rest) - 1)
    starts = []
    for sequence, branch in zip(sequences, branches):
        starts.append(size)
        for offset, token in enumerate(branch):
            add(token, n_past + len(rest) + offset, [sequence], True)
    batch.n_tokens = size
    try:
        context.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(rest)] = rest
        llm.n_tokens = n_past + len(rest)

        def logits(index: int) -> np.ndarray:
            return logits_at(llm, llama_cpp, index).copy()

        after_rest = logits(len(rest) - 1)
        return [
            [after_rest, *(logits(start + offset) for offset in range(len(branch)))]
            for start, branch in zip(starts, branches)
        ]
    finally:
        for sequence in sequences[1:]:
            context.kv_cache_seq_rm(sequence, -1, -1)
        context.kv_cache_seq_rm(MAIN, llm.n_tokens, -1)
