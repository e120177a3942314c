"""CUDA graphs of the static decode step: one per (rows, span) shape, captured at first use.

A captured graph replays every kernel of a step in one launch, with no Python or operator
dispatch per layer; its inputs and outputs are the fixed tensors the step was captured with.
All graphs share one memory pool (they never run at once: the decode thread runs them one
after another), so a replay may overwrite another graph's output: callers copy it first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Step = Callable[[], torch.Tensor]


class StepGraphs:
    def __init__(self) -> None:
        self._graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self._pool: Any = None  # torch's opaque pool handle

    def __len__(self) -> int:
        return len(self._graphs)

    def run(self, shape: tuple[int, int], step: Step) -> torch.Tensor:
        """`step()`'s output, from the graph of `shape` (captured now if new)."""
        if shape not in self._graphs:
            self._graphs[shape] = self._capture(step)
        graph, output = self._graphs[shape]
        graph.replay()
        return output

    def clear(self) -> None:
        self._graphs.clear()

    def _capture(self, step: Step) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        # Warm-up on a side stream, as capture requires (lazy cuBLAS and allocator set-up).
        # It writes the same keys and values at the same columns as the replay that follows.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            step()
        torch.cuda.current_stream().wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        # thread_local: CUDA work of other threads (none should run model work) is not an error.
        with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
            output = step()
        return graph, output
