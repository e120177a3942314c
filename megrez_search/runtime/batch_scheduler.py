"""Concurrent users of one in-process model, decoded together in the callers' own threads.

There is no worker thread. A request prefills its prompt (reusing the longest cached prefix)
and joins the running batch; then whichever consumer wants a token and has none runs one
decode step for every row under the model lock, and each row's token lands in its own outbox.
One user alone therefore runs a plain greedy loop in its own thread — no handoff per token —
and sixteen users share each forward pass instead of queueing behind each other.

Rows are left-padded to one length (an attention mask and explicit positions keep each row
exactly what it would be alone). A row that ends (stop id, token budget, its consumer closed
the stream, its own sampling failed) leaves at once, and its real columns are kept as a
reusable prefix. Only a failed forward pass — the device itself failing — ends every row.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

import torch

from . import kv_cache
from .base import ModelCallError
from .prefix_cache import PrefixCache
from .token_loop import Generation, pick_next


class BatchScheduler:
    def __init__(self, model: Any, device: str, prefix: PrefixCache | None = None) -> None:
        self._model = model
        self._device = device
        self.prefix = prefix if prefix is not None else PrefixCache()
        self._lock = threading.Lock()
        self._rows: list[Generation] = []
        self._lengths: list[int] = []  # real (unpadded) cache length of each row
        self._cache: Any = None
        # transformers 5 renamed forward()'s `past_key_values` to `cache`.
        params = inspect.signature(model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"
        self._keep_last = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        #: Prompt tokens actually run through the model (the rest came from a cached prefix).
        self.prompt_tokens_evaluated = 0
        #: The most rows one decode step has carried.
        self.peak_batch = 0

    # --- requests ------------------------------------------------------------------------

    def submit(self, sequence: Generation) -> None:
        """Prefill `sequence`'s prompt, pick its first token and let it join the batch."""
        with self._lock, torch.inference_mode():
            cache, logits = self._prefill(sequence.prompt)
            first = pick_next(logits, [sequence])[0]
            if isinstance(first, BaseException):
                raise ModelCallError(f"sampling failed: {first}") from first
            sequence.accept(first)
            if sequence.done:
                self.prefix.put(sequence.prompt, cache)
            else:
                self._join(sequence, cache)

    def take(self, sequence: Generation) -> list[int]:
        """`sequence`'s next tokens, running a decode step when none are waiting; [] at its end."""
        with self._lock:
            while not sequence.outbox and not sequence.done:
                with torch.inference_mode():
                    self._step()
            tokens, sequence.outbox = sequence.outbox, []
        if not tokens and sequence.error is not None:
            raise ModelCallError(f"transformers generation failed: {sequence.error}")
        return tokens

    def release(self, sequence: Generation) -> None:
        """End `sequence` now (its consumer is done with it); the other rows go on."""
        with self._lock:
            sequence.done = True
            if sequence in self._rows:
                with torch.inference_mode():
                    self._drop([self._rows.index(sequence)])

    def score(self, prompt: list[int], continuations: list[list[int]]) -> list[float]:
        """Sum of log-probabilities of each continuation after `prompt` (for `choose`)."""
        with self._lock, torch.inference_mode():
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

    @property
    def active(self) -> int:
        return len(self._rows)

    # --- under the lock --------------------------------------------------------------------

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

    def _join(self, sequence: Generation, cache: Any) -> None:
        length = kv_cache.length(cache)
        if not self._rows:
            self._cache = cache
        else:
            self._cache = kv_cache.stack_rows(self._cache, self._width(), cache, length)
        self._rows.append(sequence)
        self._lengths.append(length)

    def _width(self) -> int:
        return kv_cache.length(self._cache) if self._cache is not None else 0

    def _step(self) -> None:
        rows = self._rows
        self.peak_batch = max(self.peak_batch, len(rows))
        inputs = torch.tensor([[row.pending] for row in rows], device=self._device)
        kwargs: dict[str, Any] = {self._cache_kwarg: self._cache}
        width = self._width()
        if any(length != width for length in self._lengths):
            lengths = torch.tensor(self._lengths, device=self._device)
            columns = torch.arange(width + 1, device=self._device)
            kwargs["attention_mask"] = (columns[None, :] >= (width - lengths)[:, None]).long()
            kwargs["position_ids"] = lengths[:, None]
        try:
            out = self._model(input_ids=inputs, use_cache=True, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the device failed: every row ends with it
            for row in rows:
                row.error, row.done = exc, True
            self._reset()
            return
        self._lengths = [length + 1 for length in self._lengths]
        for row, picked in zip(rows, pick_next(out.logits[:, -1, :], rows), strict=True):
            if isinstance(picked, BaseException):
                row.error, row.done = picked, True
            else:
                row.accept(picked)
        finished = [i for i, row in enumerate(rows) if row.done]
        if finished:
            self._drop(finished)

    def _drop(self, indices: list[int]) -> None:
        width = self._width()
        for i in indices:
            row, length = self._rows[i], self._lengths[i]
            if row.error is not None:
                continue
            if len(self._rows) == 1 and length == width:
                own = self._cache  # the whole cache is this row's: no copy
            else:
                own = kv_cache.select(self._cache, [i], width - length)
            self.prefix.put(row.cached_ids(length), own)
        keep = [i for i in range(len(self._rows)) if i not in indices]
        if not keep:
            self._reset()
            return
        new_width = max(self._lengths[i] for i in keep)
        self._cache = kv_cache.select(self._cache, keep, width - new_width)
        self._rows = [self._rows[i] for i in keep]
        self._lengths = [self._lengths[i] for i in keep]

    def _reset(self) -> None:
        self._rows, self._lengths, self._cache = [], [], None
