"""The rows of the running batch in preallocated key/value tensors (the static decode path).

Every layer's keys and values live in one tensor `[slots, kv_heads, columns, head_dim]`,
allocated once and grown by doubling (rarely: slots and columns are powers of two). Row `i`
is slot `i`; its cache is columns `[0, length)`, with no padding. A decode step writes each
row's new key and value at that row's own column and attends over the first `span` columns
through a mask built from the lengths. So every tensor a step touches has a fixed address
and one of few shapes (rows bucketed 1, 2, 4, 8, 16; spans powers of two), and on CUDA the
step can be captured once per shape as a graph and replayed (`step_graphs`), which removes
the per-operator CPU work of an eager step. Bucket rows past the real ones decode a dummy
token into a free slot; their logits are dropped.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from . import kv_cache
from .step_graphs import StepGraphs

#: The shortest attention span: a shorter prompt still attends over this many columns.
MIN_SPAN = 64

log = logging.getLogger(__name__)


def bucket(n: int, least: int = 1) -> int:
    """The smallest power of two that is at least `n` and `least`."""
    size = least
    while size < n:
        size *= 2
    return size


class _StepCache:
    """What the attention layers of one static step see as their cache: `update` stores the
    step's key and value at each row's column and returns the first `span` columns."""

    def __init__(self, batch: StaticBatch, rows: int, span: int) -> None:
        self._batch, self._rows, self._span = batch, rows, span

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        *_: Any,
        **__: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, rows = self._batch, self._rows
        slots, columns = batch.slot_index[:rows], batch.lengths_in[:rows]
        keys, values = batch.keys[layer_idx], batch.values[layer_idx]
        keys[slots, :, columns] = key_states[:, :, 0]
        values[slots, :, columns] = value_states[:, :, 0]
        return keys[:rows, :, : self._span], values[:rows, :, : self._span]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self._span


class StaticBatch:
    def __init__(
        self, model: Any, device: str, cache_kwarg: str, keep_last: dict[str, int], graphs: bool
    ) -> None:
        self._model = model
        self._device = device
        self._cache_kwarg = cache_kwarg
        self._keep_last = keep_last
        self._graphs = StepGraphs() if graphs and device.startswith("cuda") else None
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.slot_index = torch.zeros(0, dtype=torch.long)
        self.lengths_in = torch.zeros(0, dtype=torch.long)
        self._tokens_in = torch.zeros(0, dtype=torch.long)
        self._positions = torch.zeros(0, dtype=torch.long)
        #: Real cache length of each row (row i is slot i).
        self.lengths: list[int] = []

    @property
    def graphs_captured(self) -> int:
        return len(self._graphs) if self._graphs is not None else 0

    def add(self, cache: Any, length: int, need: int) -> None:
        """A new last row: `cache` (a prefilled `DynamicCache`) holds its `length` columns,
        and the row will need at most `need` columns."""
        layers = list(cache.layers)
        row = len(self.lengths)
        self._reserve(row + 1, max(need, length + 1), layers)
        for keys, values, layer in zip(self.keys, self.values, layers, strict=True):
            keys[row, :, :length] = layer.keys[0, :, -length:]
            values[row, :, :length] = layer.values[0, :, -length:]
        self.lengths.append(length)

    def forward(self, tokens: list[int]) -> torch.Tensor:
        """Logits `[rows, vocab]` of one decode step; each row's token joins its cache."""
        count = len(tokens)
        rows = bucket(count)
        span = min(bucket(max(self.lengths) + 1, MIN_SPAN), int(self._positions.numel()))
        padding = [0] * (rows - count)  # dummy rows: token 0 at column 0 of a free slot
        self._tokens_in[:rows].copy_(torch.tensor(tokens + padding))
        self.lengths_in[:rows].copy_(torch.tensor(self.lengths + padding))
        logits = self._run(rows, span)
        self.lengths = [length + 1 for length in self.lengths]
        return logits[:count]

    def own_cache(self, row: int) -> Any:
        """Row `row`'s columns as a `DynamicCache` of its own (a reusable prefix)."""
        length = self.lengths[row]
        return kv_cache.from_tensors(
            [
                (k[row : row + 1, :, :length].clone(), v[row : row + 1, :, :length].clone())
                for k, v in zip(self.keys, self.values, strict=True)
            ]
        )

    def keep(self, rows: list[int]) -> None:
        """Only `rows` stay, in that order, moved to the first slots."""
        if rows and rows != list(range(len(rows))):
            index = torch.tensor(rows, device=self._device)
            width = max(self.lengths[i] for i in rows)
            for tensor in (*self.keys, *self.values):
                tensor[: len(rows), :, :width] = tensor[index, :, :width]
        self.lengths = [self.lengths[i] for i in rows]

    def reset(self) -> None:
        self.lengths = []  # the tensors stay: the next batch reuses them (and their graphs)

    # --- internals -----------------------------------------------------------------------

    def _run(self, rows: int, span: int) -> torch.Tensor:
        if self._graphs is not None:
            try:
                # Cloned: the graph's output tensor is overwritten by its next replay.
                return self._graphs.run((rows, span), lambda: self._step(rows, span)).clone()
            except RuntimeError as exc:
                log.warning("CUDA graph capture failed, decoding without graphs: %s", exc)
                self._graphs = None
        return self._step(rows, span)

    def _step(self, rows: int, span: int) -> torch.Tensor:
        lengths = self.lengths_in[:rows]
        hidden = self._positions[None, :span] > lengths[:, None]
        dtype = self.keys[0].dtype
        mask = torch.zeros(hidden.shape, dtype=dtype, device=hidden.device)
        mask = mask.masked_fill(hidden, torch.finfo(dtype).min)[:, None, None, :]
        out = self._model(
            input_ids=self._tokens_in[:rows, None],
            position_ids=lengths[:, None],
            attention_mask=mask,
            use_cache=True,
            **{self._cache_kwarg: _StepCache(self, rows, span)},
            **self._keep_last,
        )
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits

    def _reserve(self, rows: int, columns: int, like: list[Any]) -> None:
        slots, width = bucket(rows), bucket(columns, MIN_SPAN)
        if self.keys and slots <= self.keys[0].shape[0] and width <= self.keys[0].shape[2]:
            return
        if self.keys:
            slots = max(slots, self.keys[0].shape[0])
            width = max(width, self.keys[0].shape[2])
        used, longest = len(self.lengths), max(self.lengths, default=0)

        def grown(old: torch.Tensor | None, sample: torch.Tensor) -> torch.Tensor:
            shape = (slots, sample.shape[1], width, sample.shape[3])
            new = sample.new_zeros(shape)
            if old is not None and used:
                new[:used, :, :longest] = old[:used, :, :longest]
            return new

        old_keys: list[torch.Tensor | None] = list(self.keys) or [None] * len(like)
        old_values: list[torch.Tensor | None] = list(self.values) or [None] * len(like)
        self.keys = [grown(o, layer.keys) for o, layer in zip(old_keys, like, strict=True)]
        self.values = [grown(o, layer.values) for o, layer in zip(old_values, like, strict=True)]
        device = self.keys[0].device
        self.slot_index = torch.arange(slots, device=device)
        self.lengths_in = torch.zeros(slots, dtype=torch.long, device=device)
        self._tokens_in = torch.zeros(slots, dtype=torch.long, device=device)
        self._positions = torch.arange(width, device=device)
        if self._graphs is not None:
            self._graphs.clear()  # they point at the old tensors
        log.info("static KV cache: %d rows x %d columns", slots, width)
