"""Row and column surgery on a transformers `DynamicCache`, for batching and prefix reuse.

A cache holds, per layer, keys and values shaped `[batch, kv_heads, length, head_dim]`. The
batch scheduler keeps its rows left-padded to one length (a 2-D attention mask says which
columns are real), so a sequence joins by padding, leaves by row selection, and its own cache
comes back out as its real columns only, ready to be reused as a prefix by the next request.
"""

from __future__ import annotations

from typing import Any

import torch


def _layers(cache: Any) -> list[Any]:
    return list(cache.layers)


def length(cache: Any) -> int:
    return int(cache.get_seq_length())


def from_tensors(tensors: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    """A `DynamicCache` holding each layer's (keys, values)."""
    # Full-attention layers only (LLaMA, Megrez): a sliding-window layer would need its window.
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=tensors)


def _left_pad(tensor: torch.Tensor, columns: int) -> torch.Tensor:
    if columns == 0:
        return tensor
    shape = list(tensor.shape)
    shape[-2] = columns
    return torch.cat([tensor.new_zeros(shape), tensor], dim=-2)


def stack_rows(batch: Any, batch_length: int, single: Any, single_length: int) -> Any:
    """`batch` with `single`'s rows appended below, both left-padded to the longer length."""
    width = max(batch_length, single_length)
    tensors = [
        (
            torch.cat(
                [_left_pad(a.keys, width - batch_length), _left_pad(b.keys, width - single_length)]
            ),
            torch.cat(
                [
                    _left_pad(a.values, width - batch_length),
                    _left_pad(b.values, width - single_length),
                ]
            ),
        )
        for a, b in zip(_layers(batch), _layers(single), strict=True)
    ]
    return from_tensors(tensors)


def select(cache: Any, rows: list[int], first_column: int) -> Any:
    """Only `rows`, from column `first_column` on (a copy: the old tensors can be freed)."""
    index = torch.tensor(rows, device=_layers(cache)[0].keys.device)
    tensors = [
        (
            layer.keys.index_select(0, index)[..., first_column:, :].contiguous(),
            layer.values.index_select(0, index)[..., first_column:, :].contiguous(),
        )
        for layer in _layers(cache)
    ]
    return from_tensors(tensors)


def crop(cache: Any, keep: int) -> None:
    """Keep only the first `keep` columns, in place."""
    extra = length(cache) - keep
    if extra > 0:
        cache.crop(-extra)


def head(cache: Any, columns: int) -> Any:
    """A copy of the first `columns` columns."""
    return from_tensors(
        [
            (layer.keys[..., :columns, :].clone(), layer.values[..., :columns, :].clone())
            for layer in _layers(cache)
        ]
    )
