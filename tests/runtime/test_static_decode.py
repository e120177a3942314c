"""The static-KV-cache decode path (the shape CUDA graphs need) against the eager path.

Real transformers on CPU, the tiny Megrez-shaped stand-in loaded twice from one folder: once
eager, once with MEGREZ_STATIC_CACHE (and MEGREZ_CUDA_GRAPHS, which a CPU ignores). Greedy
decoding must give the same tokens, alone and in a mixed batch whose rows join, leave and
move between slots; cancellation, stop strings and prefix reuse behave as on the eager path.
"""

from __future__ import annotations

import threading
from itertools import zip_longest

import pytest

from runtime import Message, Sampling, Usage
from runtime.eager_batch import EagerBatch
from runtime.static_batch import StaticBatch
from runtime.transformers_backend import TransformersModel

SYSTEM = Message("system", "You are a helpful assistant.")
QUESTIONS = [
    [SYSTEM, Message("user", "Hi.")],
    [SYSTEM, Message("user", "Name three colours of the rainbow, then say why they appear.")],
    [
        SYSTEM,
        Message("user", "Summarise: " + " ".join(f"point {i} is about rivers" for i in range(30))),
    ],
]


def greedy_ids(model: TransformersModel, messages: list[Message], new: int) -> list[int]:
    model.scheduler.prefix.clear()
    return list(model.generate_ids(model.prompt_ids(messages), Sampling(max_tokens=new)))


def test_each_load_decodes_as_its_settings_say(
    megrez_model: TransformersModel, megrez_static_model: TransformersModel
) -> None:
    # One folder, two settings: the process-wide model cache keeps them apart.
    assert isinstance(megrez_model.scheduler._batch, EagerBatch)
    batch = megrez_static_model.scheduler._batch
    assert isinstance(batch, StaticBatch)
    assert batch.graphs_captured == 0  # no CUDA here: graphs stay off


@pytest.mark.parametrize("question", range(len(QUESTIONS)))
def test_one_stream_gives_the_eager_paths_greedy_tokens(
    question: int, megrez_model: TransformersModel, megrez_static_model: TransformersModel
) -> None:
    # 90 tokens: the attention span passes its 64-column bucket, the cache grows.
    eager = greedy_ids(megrez_model, QUESTIONS[question], 90)
    assert len(eager) > 64
    assert greedy_ids(megrez_static_model, QUESTIONS[question], 90) == eager


def test_a_seeded_sampled_stream_gives_the_eager_paths_tokens(
    megrez_model: TransformersModel, megrez_static_model: TransformersModel
) -> None:
    sampling = Sampling(max_tokens=30, temperature=0.8, top_p=0.9, seed=7)
    prompt = megrez_model.prompt_ids(QUESTIONS[1])
    runs = []
    for model in (megrez_model, megrez_static_model):
        model.scheduler.prefix.clear()
        runs.append(list(model.generate_ids(prompt, sampling)))
    assert runs[0] == runs[1]
    assert runs[0] != greedy_ids(megrez_model, QUESTIONS[1], 30)  # it did sample


def test_a_mixed_batch_that_joins_leaves_and_moves_rows_matches_eager(
    megrez_model: TransformersModel, megrez_static_model: TransformersModel
) -> None:
    model = megrez_static_model
    alone = [greedy_ids(megrez_model, q, 40) for q in QUESTIONS]
    model.scheduler.prefix.clear()
    model.scheduler.peak_batch = 0
    sampling = Sampling(max_tokens=40)
    streams = [model.generate_ids(model.prompt_ids(q), sampling) for q in QUESTIONS]
    outputs: list[list[int]] = [[next(streams[0])]]
    outputs[0].append(next(streams[0]))  # the first row is two steps ahead when others join
    outputs += [[next(stream)] for stream in streams[1:]]
    assert model.scheduler.active == 3  # three rows: a bucket of four, one dummy row
    # The first row leaves after a few shared steps: the other two move to slots 0 and 1.
    for _ in range(5):
        for output, stream in zip(outputs, streams, strict=True):
            output.append(next(stream))
    streams[0].close()
    assert model.scheduler.active == 2
    for pieces in zip_longest(*streams[1:]):
        for output, piece in zip(outputs[1:], pieces, strict=True):
            if piece is not None:
                output.append(piece)
    assert outputs[0] == alone[0][: len(outputs[0])]
    assert outputs[1:] == alone[1:]
    assert model.scheduler.peak_batch == 3


def test_cancelling_stops_within_one_token(megrez_static_model: TransformersModel) -> None:
    model = megrez_static_model
    usage = Usage()
    tokens = model.generate_ids(
        model.prompt_ids([Message("user", "Tell me a long story.")]),
        Sampling(max_tokens=200),
        usage,
    )
    taken = [next(tokens) for _ in range(3)]
    tokens.close()
    assert len(taken) == 3
    assert usage.completion_tokens == 3  # not one token more was generated
    assert model.scheduler.active == 0


def test_stop_string_ends_the_answer_as_on_the_eager_path(
    megrez_model: TransformersModel, megrez_static_model: TransformersModel
) -> None:
    full = megrez_model.complete(QUESTIONS[1], Sampling(max_tokens=40))
    words = full.split()
    stop = " ".join(words[len(words) // 2 : len(words) // 2 + 2])
    assert stop and stop in full
    sampling = Sampling(max_tokens=40, stop=(stop,))
    eager_usage, static_usage = Usage(), Usage()
    eager = megrez_model.complete(QUESTIONS[1], sampling, eager_usage)
    static = megrez_static_model.complete(QUESTIONS[1], sampling, static_usage)
    assert static == eager == full[: full.index(stop)]
    assert static_usage.completion_tokens == eager_usage.completion_tokens < 40


def test_a_finished_row_is_kept_as_a_reusable_prefix(
    megrez_static_model: TransformersModel,
) -> None:
    model = megrez_static_model
    model.scheduler.prefix.clear()
    prompt = model.prompt_ids(QUESTIONS[2])
    answer = list(model.generate_ids(prompt, Sampling(max_tokens=12)))
    before = model.prompt_tokens_evaluated
    # The prompt and its answer, continued: only the one token after the kept columns runs.
    again = list(model.generate_ids([*prompt, *answer], Sampling(max_tokens=8)))
    assert model.prompt_tokens_evaluated - before == 1
    model.scheduler.prefix.clear()
    assert list(model.generate_ids([*prompt, *answer], Sampling(max_tokens=8))) == again


def test_all_model_work_runs_in_one_decode_thread(
    megrez_static_model: TransformersModel,
) -> None:
    model = megrez_static_model
    seen: set[str] = set()
    hook = model.model.register_forward_pre_hook(
        lambda *_: seen.add(threading.current_thread().name)
    )
    joined = threading.Barrier(2)

    def ask(question: list[Message]) -> None:
        stream = model.stream(question, Sampling(max_tokens=6))
        next(stream)
        joined.wait(timeout=60)
        list(stream)
        model.choose(question, ["yes", "no"])

    try:
        threads = [
            threading.Thread(target=ask, args=(q,), name=f"request-{i}")
            for i, q in enumerate(QUESTIONS[:2])
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        hook.remove()
    assert seen == {"megrez-decode"}
