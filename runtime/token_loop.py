"""One generating sequence of the in-process transformers runtime, token by token.

`Generation` is what the batch scheduler advances: its prompt, the tokens generated so far, the
tokens its consumer has not taken yet, and why it ended. `pick_next` turns one step's logits
into the next token of every row (greedy rows in one `argmax`; sampled rows with their own
seeded generator, so a row's randomness never depends on who shares its batch).
`Detokenizer` turns ids back into text incrementally with special tokens kept, because
Megrez's `<|function_start|>` must reach the agent's parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .base import Sampling


@dataclass(eq=False)
class Generation:
    prompt: list[int]
    sampling: Sampling
    max_new_tokens: int
    stop_ids: frozenset[int]
    generator: torch.Generator | None = None
    generated: list[int] = field(default_factory=list)
    #: Generated tokens the consumer has not taken yet.
    outbox: list[int] = field(default_factory=list)
    #: The token to feed at the next step (sampled, not yet in the KV cache).
    pending: int = -1
    done: bool = False
    error: BaseException | None = None
    #: Its consumer waits for a token: the decode thread runs steps while one does.
    waiting: bool = False

    def accept(self, token: int) -> None:
        """Record a sampled token; a stop id or the token budget ends the sequence."""
        if token in self.stop_ids:
            self.done = True
            return
        self.generated.append(token)
        self.outbox.append(token)
        self.pending = token
        if len(self.generated) >= self.max_new_tokens:
            self.done = True

    def cached_ids(self, cached: int) -> list[int]:
        """The ids whose keys and values are the first `cached` columns of this row's cache."""
        return (self.prompt + self.generated)[:cached]


def make_generator(sampling: Sampling, device: str) -> torch.Generator | None:
    if sampling.temperature <= 0:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(sampling.seed if sampling.seed is not None else torch.seed())
    return generator


def pick_next(logits: torch.Tensor, rows: list[Generation]) -> list[int | BaseException]:
    """The next token of each row from `logits` `[rows, vocab]`; a row's failure is its own."""
    greedy = [
        i
        for i, row in enumerate(rows)
        if row.sampling.temperature <= 0 and row.sampling.repetition_penalty == 1.0
    ]
    picked: list[int | BaseException] = [0] * len(rows)
    if greedy:
        # One device sync for every greedy row of the step.
        tokens = logits[greedy].argmax(dim=-1).tolist()
        for i, token in zip(greedy, tokens, strict=True):
            picked[i] = int(token)
    for i, row in enumerate(rows):
        if i in greedy:
            continue
        try:
            picked[i] = _pick_one(logits[i].float(), row)
        except (RuntimeError, ValueError) as exc:  # e.g. NaN probabilities
            picked[i] = exc
    return picked


def _pick_one(logits: torch.Tensor, row: Generation) -> int:
    sampling = row.sampling
    if sampling.repetition_penalty != 1.0:
        # As transformers' RepetitionPenaltyLogitsProcessor: over prompt and answer so far.
        seen = torch.tensor(row.prompt + row.generated, device=logits.device)
        scores = logits.gather(0, seen)
        penalised = torch.where(
            scores < 0,
            scores * sampling.repetition_penalty,
            scores / sampling.repetition_penalty,
        )
        logits = logits.scatter(0, seen, penalised)
    if sampling.temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        ordered, order = probs.sort(descending=True)
        # Keep the smallest head whose mass reaches top_p (at least one token).
        drop = ordered.cumsum(0) - ordered > sampling.top_p
        ordered[drop] = 0.0
        probs = torch.zeros_like(probs).scatter(0, order, ordered)
    return int(torch.multinomial(probs, 1, generator=row.generator))


class Detokenizer:
    """Incremental decoding: emits text once it is stable (no half UTF-8 character, and no
    change to earlier text from a tokenizer's merging of spaces)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # start of the window that is re-decoded for context
        self._read = 0  # end of what has been emitted

    def _decode(self, ids: list[int]) -> str:
        return str(
            self._tokenizer.decode(
                ids, skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )

    def feed(self, token: int) -> str:
        self._ids.append(token)
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self._ids)
            return after[len(before) :]
        return ""

    def flush(self) -> str:
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return after[len(before) :]
