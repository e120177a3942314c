"""Streaming from a worker thread (how Megrez-3B-Omni's `chat` runs): batched wake-ups and
cancellation, on a real transformers `generate` with the tiny Megrez-shaped stand-in."""

from __future__ import annotations

from typing import Any

import torch

from runtime import Message
from runtime.text_stream import StopScanner
from runtime.transformers_backend import TransformersModel
from runtime.worker_stream import WorkerStream


def generation(model: TransformersModel, max_new: int, interval_s: float) -> WorkerStream:
    prompt = torch.tensor([model.prompt_ids([Message("user", "Tell me a story.")])])

    def work(streamer: Any) -> Any:
        # No eos: the random stand-in must run its full length unless cancelled.
        return model.model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=max_new,
            min_new_tokens=max_new,
            do_sample=False,
            pad_token_id=0,
            streamer=streamer,
        )

    return WorkerStream(model.tokenizer, work, StopScanner(()), "failed", interval_s=interval_s)


def test_wakeups_are_batched_and_the_text_is_the_same(megrez_model: TransformersModel) -> None:
    per_token = generation(megrez_model, 24, interval_s=0.0)
    every_token_text = "".join(per_token)
    batched = generation(megrez_model, 24, interval_s=3600.0)
    assert "".join(batched) == every_token_text
    # The first piece at once (time to first token), everything else in one hand-off.
    assert batched.streamer.handoffs == 2
    assert per_token.streamer.handoffs > 2


def test_closing_the_stream_ends_the_generation_at_its_next_token(
    megrez_model: TransformersModel,
) -> None:
    stream = generation(megrez_model, 400, interval_s=0.0)
    chunks = iter(stream)
    next(chunks)
    chunks.close()  # joins the worker; raises nothing: the cancellation is no error
    assert stream.result is None  # generate() did not run to its end...
    assert stream.streamer.puts < 400  # ...nor anywhere near it
