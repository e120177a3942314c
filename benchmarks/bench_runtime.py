"""Runtime speed: the same SmolLM2-135M-Instruct weights on llama.cpp and on transformers.

Measures, in one run and one process per backend turn: load time, prefill tokens/s (a long
prompt, one generated token) and decode tokens/s (greedy, fixed token count), then prints a
Markdown table with the ratios. Then the llama.cpp prompt-state cache: the agent's decide
step (likelihood choice) and answer step (generation from sources) for a few questions, with
the saved states on and off, in one process. Then the warm decide step alone, its options
read in one batch vs one token at a time. Usage:

    .venv/bin/python -m benchmarks.bench_runtime [--decode-tokens 128] [--repeats 3]
        [--case all|backends|state-cache|decide] [--gguf PATH] [--questions 4]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.settings import Settings
from runtime import ChatModel, Message, Sampling, Usage
from runtime.llamacpp import LlamaCppModel

PROMPT_PARAGRAPH = (
    "The functools module is for higher-order functions: functions that act on or return "
    "other functions. In general, any callable object can be treated as a function for the "
    "purposes of this module. "
)


@dataclass
class Figures:
    backend: str
    load_s: float
    prefill_tok_s: float
    decode_tok_s: float


def _load(backend: str) -> tuple[ChatModel, float]:
    from runtime.registry import embedded_gguf_path

    started = time.perf_counter()
    if backend == "llama.cpp":
        from runtime.llamacpp import LlamaCppModel

        model: ChatModel = LlamaCppModel(embedded_gguf_path(), Settings().runtime)
    else:
        from runtime.transformers_backend import TransformersModel

        gguf = embedded_gguf_path()
        model = TransformersModel(gguf.parent, Settings(device="cpu").runtime, gguf_file=gguf.name)
    return model, time.perf_counter() - started


def _prefill(model: ChatModel, prompt_paragraphs: int) -> float:
    messages = [Message("user", PROMPT_PARAGRAPH * prompt_paragraphs + "Summarise this.")]
    usage = Usage()
    if hasattr(model, "llm"):
        model.llm.reset()  # type: ignore[attr-defined] - no cached prefix: measure a cold prompt
    started = time.perf_counter()
    model.complete(messages, Sampling(max_tokens=1), usage)
    return usage.prompt_tokens / (time.perf_counter() - started)


def _decode(model: ChatModel, tokens: int) -> float:
    messages = [Message("user", "Write a long story about a lighthouse keeper.")]
    usage = Usage()
    stream = model.stream(messages, Sampling(max_tokens=tokens), usage)
    next(stream)  # first token: prefill is over
    started = time.perf_counter()
    for _ in stream:
        pass
    return max(usage.completion_tokens - 1, 1) / (time.perf_counter() - started)


def measure(backend: str, decode_tokens: int, repeats: int) -> Figures:
    model, load_s = _load(backend)
    _decode(model, 8)  # warm-up
    prefill = statistics.median(_prefill(model, 12) for _ in range(repeats))
    decode = statistics.median(_decode(model, decode_tokens) for _ in range(repeats))
    del model
    gc.collect()
    return Figures(backend, load_s, prefill, decode)


QUESTIONS = (
    "What does functools.lru_cache do?",
    "How do I read a file line by line in Python?",
    "What is the difference between a list and a tuple?",
    "Which Python version added the match statement?",
    "How does asyncio.gather handle exceptions?",
    "What does the walrus operator do?",
)


@dataclass
class StateCacheFigures:
    seconds_per_question: float
    prompt_tokens_per_question: float


def _question_steps(model: ChatModel, question: str, answer_tokens: int) -> None:
    """One question as the agent runs it with the generic dialect: decide, then answer."""
    from agent.dialect import Dialect, generic_decide_messages, generic_decide_options
    from agent.state import Context

    model.choose(generic_decide_messages(question), generic_decide_options())
    # Every question reads other pages: only the system prompt is shared between questions.
    contexts = [
        Context(
            n=n,
            url=f"https://docs.python.org/{n}",
            title=f"Page {n}",
            text=f"Notes {n} on {question} {PROMPT_PARAGRAPH * 2}",
        )
        for n in (1, 2, 3)
    ]
    messages = Dialect().answer_messages(
        datetime.now(), [], Message("user", question), question, contexts
    )
    model.complete(messages, Sampling(max_tokens=answer_tokens))


def measure_state_cache(
    gguf: Path, questions: int, answer_tokens: int
) -> tuple[StateCacheFigures, StateCacheFigures]:
    """(with, without) the saved prompt states, on one loaded model, questions alternating."""
    from runtime.llamacpp_states import StateCache

    model = LlamaCppModel(gguf, Settings().runtime)
    enabled = model.states
    disabled = StateCache(max_entries=0, max_bytes=0)
    _question_steps(model, "Hello?", 4)  # warm-up: first-call allocations
    seconds = {True: 0.0, False: 0.0}
    evaluated = {True: 0, False: 0}
    asked = [QUESTIONS[i % len(QUESTIONS)] for i in range(questions)]
    # Each question twice in a row, cache on then off or off then on, so drift (other jobs on
    # the machine) spreads over both. Only runs with the cache on save states.
    for index, question in enumerate(asked):
        for cached in (True, False) if index % 2 == 0 else (False, True):
            # Neither run of a question shares a live prefix with the other's last prompt.
            model.states = enabled if cached else disabled
            before = model.prompt_tokens_evaluated
            started = time.perf_counter()
            _question_steps(model, question, answer_tokens)
            seconds[cached] += time.perf_counter() - started
            evaluated[cached] += model.prompt_tokens_evaluated - before
    model.close()
    with_cache, without = (
        StateCacheFigures(seconds[c] / len(asked), evaluated[c] / len(asked)) for c in (True, False)
    )
    return with_cache, without


def state_cache_report(gguf: Path, questions: int, answer_tokens: int) -> list[str]:
    with_cache, without = measure_state_cache(gguf, questions, answer_tokens)
    on, off = with_cache.seconds_per_question, without.seconds_per_question
    title = (
        f"llama.cpp prompt-state cache, `{gguf.name}`, decide + answer ({answer_tokens} "
        f"tokens) per question, {questions} questions:"
    )
    return [
        title,
        "",
        "| states | s / question | prompt tokens evaluated / question |",
        "|---|---:|---:|",
        f"| saved (default) | {on:.2f} | {with_cache.prompt_tokens_per_question:.0f} |",
        f"| off | {off:.2f} | {without.prompt_tokens_per_question:.0f} |",
        "",
        f"With saved states a question takes {on / off:.2f}x the time ({off / on:.2f}x faster).",
    ]


def _choose_one_token_at_a_time(model: LlamaCppModel, messages: list[Message]) -> str:
    """The decision as it was scored before the options were read in one batch: after the
    prompt, each option token alone (the reference the batch is measured against)."""
    import numpy as np

    from agent.dialect import generic_decide_options
    from runtime.llamacpp import _log_softmax

    tokens = model._tokenize_prompt(model.render(messages)[0])
    scores: dict[str, float] = {}
    with model._lock:
        model._evaluate_prompt(tokens)
        first = np.array(model._last_logits())
        for option in generic_decide_options():
            option_tokens = model.llm.tokenize(option.encode(), add_bos=False, special=True)
            logits, total = first, 0.0
            for index, token in enumerate(option_tokens):
                total += float(_log_softmax(logits)[token])
                if index + 1 < len(option_tokens):
                    model.llm.eval([token])
                    logits = np.array(model._last_logits())
            scores[option] = total
            model.llm.n_tokens = len(tokens)
    return max(scores, key=scores.__getitem__)


def decide_report(gguf: Path, questions: int) -> list[str]:
    """Warm decisions (system prompt from the saved state), options scored in one batch vs
    one token at a time, alternating on one loaded model; both must pick the same option."""
    from agent.dialect import generic_decide_messages, generic_decide_options

    model = LlamaCppModel(gguf, Settings().runtime)
    model.choose(generic_decide_messages("Hello?"), generic_decide_options())  # warm
    seconds: dict[str, list[float]] = {"batch": [], "one token at a time": []}
    agree = 0
    asked = [QUESTIONS[i % len(QUESTIONS)] for i in range(questions)]
    for index, question in enumerate(asked):
        order = ("batch", "one token at a time")
        for way in order if index % 2 == 0 else order[::-1]:
            # Each way its own wording, so neither finds the other's question already read.
            messages = generic_decide_messages(f"{question} ({way})")
            started = time.perf_counter()
            if way == "batch":
                model.choose(messages, generic_decide_options())
            else:
                _choose_one_token_at_a_time(model, messages)
            seconds[way].append(time.perf_counter() - started)
        same = generic_decide_messages(question)  # untimed: both ways pick the same option
        agree += model.choose(same, generic_decide_options()).option == (
            _choose_one_token_at_a_time(model, same)
        )
    model.close()
    batch, single = (statistics.median(seconds[w]) for w in seconds)
    return [
        f"Warm search decision, `{gguf.name}`, {questions} questions, median s:",
        "",
        "| option tokens read | s / decision |",
        "|---|---:|",
        f"| in one batch (default) | {batch:.3f} |",
        f"| one token at a time | {single:.3f} |",
        "",
        f"One batch takes {batch / single:.2f}x the time; same option picked {agree}/{questions}.",
    ]


def main(argv: list[str] | None = None) -> str:
    from runtime.registry import embedded_gguf_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--case", choices=("all", "backends", "state-cache", "decide"), default="all"
    )
    parser.add_argument("--gguf", type=Path, help="model of the state-cache case (default: tiny)")
    parser.add_argument("--questions", type=int, default=4, help="questions of that case")
    parser.add_argument("--answer-tokens", type=int, default=32)
    args = parser.parse_args(argv)
    lines: list[str] = []
    if args.case in ("all", "backends"):
        lines += backends_report(args.decode_tokens, args.repeats)
    if args.case in ("all", "state-cache"):
        if lines:
            lines.append("")
        gguf = args.gguf or embedded_gguf_path()
        lines += state_cache_report(gguf, args.questions, args.answer_tokens)
    if args.case in ("all", "decide"):
        lines += ["", *decide_report(args.gguf or embedded_gguf_path(), args.questions)]
    report = "\n".join(lines)
    print(report)
    return report


def backends_report(decode_tokens: int, repeats: int) -> list[str]:
    rows = [measure(b, decode_tokens, repeats) for b in ("llama.cpp", "transformers")]
    llama, hf = rows
    lines = [
        "| backend | load s | prefill tok/s | decode tok/s |",
        "|---|---:|---:|---:|",
        *(
            f"| {r.backend} | {r.load_s:.2f} | {r.prefill_tok_s:.0f} | {r.decode_tok_s:.1f} |"
            for r in rows
        ),
        "",
        (
            f"llama.cpp / transformers: load {hf.load_s / llama.load_s:.1f}x faster, prefill "
            f"{llama.prefill_tok_s / hf.prefill_tok_s:.1f}x, decode "
            f"{llama.decode_tok_s / hf.decode_tok_s:.1f}x."
        ),
    ]
    return lines


if __name__ == "__main__":
    main()
