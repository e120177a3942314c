"""The rows of the running batch in one transformers `DynamicCache` (the eager decode path).

Rows are left-padded to one length: a sequence joins by padding, leaves by row selection, and
its own cache comes back out as its real columns only. An attention mask and explicit
positions keep each row exactly what it would be alone. Every step appends one column, so
the cache grows by a copy now and then and every step runs operator by operator.
"""

from __future__ import annotations

from typing import Any

import torch

from . import kv_cache


class EagerBatch:
    def __init__(self, model: Any, device: str, cache_kwarg: str) -> None:
        self._model = model
        self._device = device
        self._cache_kwarg = cache_kwarg
        self._cache: Any = None
        #: Real (unpadded) cache length of each row.
        self.lengths: list[int] = []

    def add(self, cache: Any, length: int, need: int) -> None:
        """A new last row: `cache` holds its `length` columns (`need` is the static path's)."""
        if not self.lengths:
            self._cache = cache
        else:
            self._cache = kv_cache.stack_rows(self._cache, self._width(), cache, length)
        self.lengths.append(length)

    def forward(self, tokens: list[int]) -> torch.Tensor:
        """Logits `[rows, vocab]` of one decode step; each row's token joins its cache."""
        inputs = torch.tensor([[token] for token in tokens], device=self._device)
        kwargs: dict[str, Any] = {self._cache_kwarg: self._cache}
        width = self._width()
        if any(length != width for length in self.lengths):
            lengths = torch.tensor(self.lengths, device=self._device)
            columns = torch.arange(width + 1, device=self._device)
            kwargs["attention_mask"] = (columns[None, :] >= (width - lengths)[:, None]).long()
            kwargs["position_ids"] = lengths[:, None]
        out = self._model(input_ids=inputs, use_cache=True, **kwargs)
        self.lengths = [length + 1 for length in self.lengths]
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits

    def own_cache(self, row: int) -> Any:
        """Row `row`'s real columns as a cache of its own (to keep as a reusable prefix)."""
        width, length = self._width(), self.lengths[row]
        if len(self.lengths) == 1 and length == width:
            return self._cache  # the whole cache is this row's: no copy
        return kv_cache.select(self._cache, [row], width - length)

    def keep(self, rows: list[int]) -> None:
        """Only `rows` stay, in that order."""
        if not rows:
            self.reset()
            return
        width = self._width()
        new_width = max(self.lengths[i] for i in rows)
        self._cache = kv_cache.select(self._cache, rows, width - new_width)
        self.lengths = [self.lengths[i] for i in rows]

    def reset(self) -> None:
        self._cache, self.lengths = None, []

    def _width(self) -> int:
        return kv_cache.length(self._cache) if self._cache is not None else 0
