"""Concurrent users of one in-process model, decoded together by one long-lived decode thread.

All model work — prefill, decode steps, scoring — runs in one daemon thread that lives as
long as the model; request threads (the API's, the UI's, the agent's model-call workers)
only hand it work and wait. One thread owns the device's work, so a CUDA graph is never
captured while another thread launches kernels, and the per-request threads that were
measured decoding at a third of the main thread's speed on a GPU (benchmarks/RESULTS.md)
no longer run the loop.

A request prefills its prompt (reusing the longest cached prefix) and joins the running batch.
The decode thread runs a step for every row while some consumer waits for a token and has
none, so a consumer that stops asking (closes its stream) costs no further token; each row's
token lands in its own outbox. Sixteen users share each forward pass instead of queueing.

A row that ends (stop id, token budget, its consumer closed the stream, its own sampling
failed) leaves at once, and its real columns are kept as a reusable prefix. Only a failed
forward pass — the device itself failing — ends every row. The rows live in an `EagerBatch`
(a growing `DynamicCache`) or, with the static cache, a `StaticBatch` (fixed tensors whose
step can be a CUDA graph).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from . import kv_cache
from .base import ModelCallError
from .eager_batch import EagerBatch
from .prefix_cache import PrefixCache
from .static_batch import StaticBatch
from .token_loop import Generation, pick_next

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Job:
    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished = False

    def run(self) -> None:
        try:
            with torch.inference_mode():
                self.result = self.work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self.error = exc
        self.finished = True


class BatchScheduler:
    def __init__(
        self,
        model: Any,
        device: str,
        prefix: PrefixCache | None = None,
        *,
        static_cache: bool = False,
        cuda_graphs: bool = False,
    ) -> None:
        self._model = model
        self._device = device
        self.prefix = prefix if prefix is not None else PrefixCache()
        # transformers 5 renamed forward()'s `past_key_values` to `cache`.
        params = inspect.signature(model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"
        self._keep_last = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self._batch: EagerBatch | StaticBatch = (
            StaticBatch(model, device, self._cache_kwarg, self._keep_last, cuda_graphs)
            if static_cache or cuda_graphs
            else EagerBatch(model, device, self._cache_kwarg)
        )
        self._rows: list[Generation] = []
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        #: Prompt tokens actually run through the model (the rest came from a cached prefix).
        self.prompt_tokens_evaluated = 0
        #: The most rows one decode step has carried.
        self.peak_batch = 0

    # --- requests (any thread) ------------------------------------------------------------

    def submit(self, sequence: Generation) -> None:
        """Prefill `sequence`'s prompt, pick its first token and let it join the batch."""
        self._call(lambda: self._submit(sequence))

    def take(self, sequence: Generation) -> list[int]:
        """`sequence`'s next tokens, waiting for a decode step if none are ready; [] at its end."""
        with self._cond:
            self._start()
            while not sequence.outbox and not sequence.done:
                sequence.waiting = True
                self._cond.notify_all()
                self._cond.wait()
            sequence.waiting = False
            tokens, sequence.outbox = sequence.outbox, []
        if not tokens and sequence.error is not None:
            raise ModelCallError(f"transformers generation failed: {sequence.error}")
        return tokens

    def release(self, sequence: Generation) -> None:
        """End `sequence` now (its consumer is done with it); the other rows go on."""
        self._call(lambda: self._release(sequence))

    def score(self, prompt: list[int], continuations: list[list[int]]) -> list[float]:
        """Sum of log-probabilities of each continuation after `prompt` (for `choose`)."""
        scores: list[float] = self._call(lambda: self._score(prompt, continuations))
        return scores

    @property
    def active(self) -> int:
        return len(self._rows)

    @property
    def graphs_captured(self) -> int:
        """CUDA graphs of decode steps captured so far (0 without MEGREZ_CUDA_GRAPHS)."""
        return self._batch.graphs_captured if isinstance(self._batch, StaticBatch) else 0

    def _call(self, work: Callable[[], T]) -> T:
        """`work()` run by the decode thread; its exception re-raised here."""
        job = _Job(work)
        with self._cond:
            self._start()
            self._jobs.append(job)
            self._cond.notify_all()
            while not job.finished:
                self._cond.wait()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="megrez-decode", daemon=True)
            self._thread.start()

    # --- the decode thread ----------------------------------------------------------------

    def _serve(self) -> None:
        with self._cond:
            while True:
                if self._jobs:
                    self._jobs.popleft().run()
                elif any(row.waiting and not row.outbox and not row.done for row in self._rows):
                    self._guarded_step()
                else:
                    self._cond.wait()
                    continue
                self._cond.notify_all()

    def _submit(self, sequence: Generation) -> None:
        cache, logits = self._prefill(sequence.prompt)
        first = pick_next(logits, [sequence])[0]
        if isinstance(first, BaseException):
            raise ModelCallError(f"sampling failed: {first}") from first
        sequence.accept(first)
        if sequence.done:
            self.prefix.put(sequence.prompt, cache)
            return
        need = len(sequence.prompt) + sequence.max_new_tokens
        self._batch.add(cache, kv_cache.length(cache), need)
        self._rows.append(sequence)

    def _release(self, sequence: Generation) -> None:
        sequence.done = True
        if sequence in self._rows:
            self._drop([self._rows.index(sequence)])

    def _score(self, prompt: list[int], continuations: list[list[int]]) -> list[float]:
        cache, logits = self._prefill(prompt)
        first = torch.log_softmax(logits[0].float(), dim=-1)
        scores = []
        for ids in continuations:
            total = float(first[ids[0]])
            if len(ids) > 1:
                rest = torch.tensor([ids], device=self._device)
                out = self._model(input_ids=rest, use_cache=True, **{self._cache_kwarg: cache})
                logprobs = torch.log_softmax(out.logits[0, :-1].float(), dim=-1)
                total += float(logprobs.gather(1, rest[0, 1:, None]).sum())
                kv_cache.crop(cache, len(prompt))
            scores.append(total)
        self.prefix.put(prompt, cache)
        return scores

    def _prefill(self, prompt: list[int]) -> tuple[Any, torch.Tensor]:
        from transformers import DynamicCache

        cache, reused = self.prefix.take(prompt)
        if cache is None:
            cache = DynamicCache()
        ids = torch.tensor([prompt[reused:]], device=self._device)
        try:
            out = self._model(
                input_ids=ids, use_cache=True, **{self._cache_kwarg: cache}, **self._keep_last
            )
        except Exception as exc:
            raise ModelCallError(f"transformers prefill failed: {exc}") from exc
        self.prompt_tokens_evaluated += len(prompt) - reused
        return cache, out.logits[:, -1, :]

    def _guarded_step(self) -> None:
        try:
            with torch.inference_mode():
                self._step()
        except BaseException as exc:  # noqa: BLE001 - the device failed: every row ends with it
            log.warning("decode step failed: %s", exc)
            for row in self._rows:
                row.error, row.done = exc, True
            self._rows = []
            self._batch.reset()

    def _step(self) -> None:
        rows = self._rows
        self.peak_batch = max(self.peak_batch, len(rows))
        logits = self._batch.forward([row.pending for row in rows])
        for row, picked in zip(rows, pick_next(logits, rows), strict=True):
            if isinstance(picked, BaseException):
                row.error, row.done = picked, True
            else:
                row.accept(picked)
        finished = [i for i, row in enumerate(rows) if row.done]
        if finished:
            self._drop(finished)

    def _drop(self, indices: list[int]) -> None:
        for i in indices:
            row = self._rows[i]
            if row.error is None:
                self.prefix.put(row.cached_ids(self._batch.lengths[i]), self._batch.own_cache(i))
        keep = [i for i in range(len(self._rows)) if i not in indices]
        self._batch.keep(keep)
        self._rows = [self._rows[i] for i in keep]
