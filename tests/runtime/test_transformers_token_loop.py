"""The in-process transformers runtime's own token loop, prefix reuse and batched users.

Real transformers on CPU: the tiny Megrez-shaped LLaMA (Megrez's tokenizer and template,
random weights) and the dequantized SmolLM2-135M-Instruct folder (a real model, real words).
"""

from __future__ import annotations

import threading
from itertools import zip_longest

import pytest
import torch

from runtime import Message, ModelCallError, Sampling, Usage
from runtime.token_loop import Detokenizer
from runtime.transformers_backend import TransformersModel

SYSTEM = Message("system", "You are a helpful assistant.")
FRANCE = [SYSTEM, Message("user", "What is the capital of France?")]
RAINBOW = [SYSTEM, Message("user", "Name three colours of the rainbow, then say why.")]


def greedy_generate_ids(model: TransformersModel, prompt: list[int], max_new: int) -> list[int]:
    """Plain `generate`, greedy: the reference the token loop must match id for id."""
    with torch.inference_mode():
        output = model.model.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=max_new,
            do_sample=False,
            eos_token_id=model._stop_ids,
            pad_token_id=model._stop_ids[0],
        )
    ids = output[0, len(prompt) :].tolist()
    # generate keeps the stop id it ended on; the token loop ends without emitting it.
    return ids[:-1] if ids and ids[-1] in model._stop_ids else ids


@pytest.mark.parametrize("which", ["megrez_model", "smollm2_model"])
def test_token_loop_yields_the_ids_of_greedy_generate(
    which: str, request: pytest.FixtureRequest
) -> None:
    model: TransformersModel = request.getfixturevalue(which)
    prompt = model.prompt_ids(RAINBOW)
    usage = Usage()
    ids = list(model.generate_ids(prompt, Sampling(max_tokens=24), usage))
    assert ids == greedy_generate_ids(model, prompt, 24)
    assert usage.prompt_tokens == len(prompt) and usage.completion_tokens == len(ids)


def test_cancelling_stops_within_one_token(megrez_model: TransformersModel) -> None:
    usage = Usage()
    tokens = megrez_model.generate_ids(
        megrez_model.prompt_ids([Message("user", "Tell me a long story.")]),
        Sampling(max_tokens=200),
        usage,
    )
    taken = [next(tokens) for _ in range(3)]
    tokens.close()
    assert len(taken) == 3
    assert usage.completion_tokens == 3  # not one token more was generated
    assert megrez_model.scheduler.active == 0


def test_second_step_of_a_turn_reuses_the_prefix(smollm2_model: TransformersModel) -> None:
    model = smollm2_model
    history = [SYSTEM, Message("user", "What is the capital of France?")]
    decide = [*history[:-1], Message("user", history[-1].content + " Answer yes or no.")]
    before = model.prompt_tokens_evaluated
    model.choose(history, ["Yes", "No"])
    first = model.prompt_tokens_evaluated - before
    assert first > 0
    answer_prompt = model.prompt_ids(history)
    # The answer step shares the whole prompt with the decision: only its last token runs.
    text = model.complete(history, Sampling(max_tokens=12))
    assert model.prompt_tokens_evaluated - before - first == 1
    # A different last message still shares system prompt and the start of the user turn.
    decide_prompt = model.prompt_ids(decide)
    shared = next(
        i for i, (a, b) in enumerate(zip(answer_prompt, decide_prompt, strict=False)) if a != b
    )
    mark = model.prompt_tokens_evaluated
    model.choose(decide, ["Yes", "No"])
    assert model.prompt_tokens_evaluated - mark == len(decide_prompt) - shared
    # The next turn reuses the previous turn's prompt and answer.
    turn_two = [*history, Message("assistant", text), Message("user", "And of Italy?")]
    mark = model.prompt_tokens_evaluated
    model.complete(turn_two, Sampling(max_tokens=4))
    assert model.prompt_tokens_evaluated - mark <= len(model.prompt_ids(turn_two)) - len(
        answer_prompt
    )


def test_two_concurrent_requests_get_what_each_gets_alone(
    smollm2_model: TransformersModel,
) -> None:
    model = smollm2_model
    sampling = Sampling(max_tokens=30)
    alone = [model.complete(FRANCE, sampling), model.complete(RAINBOW, sampling)]
    model.scheduler.peak_batch = 0
    # Both join the batch (their first chunk), then advance in turns: every step is shared.
    streams = [model.stream(FRANCE, sampling), model.stream(RAINBOW, sampling)]
    outputs = [[next(stream)] for stream in streams]
    for pieces in zip_longest(*streams):
        for output, piece in zip(outputs, pieces, strict=True):
            if piece:
                output.append(piece)
    assert ["".join(output) for output in outputs] == alone
    assert model.scheduler.peak_batch == 2


def test_concurrent_threads_are_unmixed_and_batched(smollm2_model: TransformersModel) -> None:
    model = smollm2_model
    sampling = Sampling(max_tokens=24)
    questions = [FRANCE, RAINBOW, [SYSTEM, Message("user", "Why is the sky blue?")]]
    alone = [model.complete(q, sampling) for q in questions]
    model.scheduler.peak_batch = 0
    results: list[str] = [""] * len(questions)
    joined = threading.Barrier(len(questions))

    def ask(index: int) -> None:
        stream = model.stream(questions[index], sampling)
        first = next(stream)
        joined.wait(timeout=60)  # everyone is in the batch before anyone goes on
        results[index] = first + "".join(stream)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == alone
    assert model.scheduler.peak_batch == len(questions)


def test_one_users_cancel_or_error_leaves_the_other_stream_intact(
    smollm2_model: TransformersModel,
) -> None:
    model = smollm2_model
    sampling = Sampling(max_tokens=30)
    alone = model.complete(RAINBOW, sampling)
    survivor = model.stream(RAINBOW, sampling)
    output = [next(survivor)]
    leaver = model.stream(FRANCE, sampling)
    next(leaver)
    assert model.scheduler.active == 2
    output.append(next(survivor))
    leaver.close()
    assert model.scheduler.active == 1
    # A request whose sampling fails (an infinite temperature scale) fails alone.
    broken = model.stream(FRANCE, Sampling(max_tokens=5, temperature=1e-45))
    with pytest.raises(ModelCallError, match="sampling failed"):
        next(broken)
    output.extend(survivor)
    assert "".join(output) == alone


def test_stop_string_split_across_tokens_is_honoured(smollm2_model: TransformersModel) -> None:
    model = smollm2_model
    ids = list(model.generate_ids(model.prompt_ids(RAINBOW), Sampling(max_tokens=30)))
    pieces = [model.tokenizer.decode(ids[: i + 1]) for i in range(len(ids))]
    # A stop string made of the end of one token and the start of the next.
    cut = next(
        i
        for i in range(3, len(ids))
        if len(pieces[i - 1]) - len(pieces[i - 2]) >= 3 and len(pieces[i]) - len(pieces[i - 1]) >= 3
    )
    boundary = len(pieces[cut - 1])
    stop = pieces[cut][boundary - 2 : boundary + 2]
    full = model.tokenizer.decode(ids)
    usage = Usage()
    text = model.complete(RAINBOW, Sampling(max_tokens=30, stop=(stop,)), usage)
    assert text == full[: full.index(stop)]
    # Generation ended at the token that completed the stop string, not at max_tokens.
    completed = next(i for i, piece in enumerate(pieces) if stop in piece)
    assert usage.completion_tokens == completed + 1


def test_detokenizer_keeps_multibyte_text_and_special_tokens(
    megrez_model: TransformersModel,
) -> None:
    tokenizer = megrez_model.tokenizer
    text = "Café ☕ naïve 東京 <|function_start|>{}<|function_end|>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    detokenizer = Detokenizer(tokenizer)
    pieces = [detokenizer.feed(token) for token in ids]
    assert all("\ufffd" not in piece for piece in pieces)
    assert "".join(pieces) + detokenizer.flush() == tokenizer.decode(ids)


def test_a_prompt_beyond_the_context_is_one_clear_error(megrez_model: TransformersModel) -> None:
    limit = megrez_model.model.config.max_position_embeddings
    too_long = [Message("user", "word " * limit)]
    with pytest.raises(ModelCallError, match="too long for this model's context"):
        megrez_model.complete(too_long, Sampling(max_tokens=4))
    assert megrez_model.scheduler.active == 0
    # ...and the model still answers the next request.
    usage = Usage()
    megrez_model.complete(FRANCE, Sampling(max_tokens=3), usage)
    assert usage.completion_tokens > 0
