"""Pipeline overhead: the share of end-to-end time that is not model compute (goal <= 10%).

Runs the dev questions through the agent exactly as `megrez-search eval` does, with the
model backend wrapped to add up the time spent inside its calls (generation and the
decision's likelihood scoring). Everything else — search, fetch, cleaning, ranking, citation
checking, the graph and its checkpoints — is overhead. Usage:

    .venv/bin/python -m benchmarks.bench_pipeline [--limit 6] [--questions FILE] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from benchmarks.eval_args import add_question_arguments
from core.settings import get_settings
from evaluation.dataset import load_questions
from evaluation.runner import evaluate
from runtime import ChatModel, Choice, Message, Sampling, Usage, load_runtime

RETRIEVAL_STEPS = ("search", "fetch", "rank")


class TimedModel(ChatModel):
    """A `ChatModel` that adds up the seconds spent inside the wrapped model's calls."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.name, self.dialect, self.modalities = inner.name, inner.dialect, inner.modalities
        self.seconds = 0.0
        self._lock = threading.Lock()

    def _add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        # Only the time inside the model's own next() counts, not the consumer's work.
        started = time.perf_counter()
        inner = self.inner.stream(messages, sampling, usage)
        self._add(time.perf_counter() - started)
        try:
            while True:
                started = time.perf_counter()
                try:
                    chunk = next(inner)
                except StopIteration:
                    return
                finally:
                    self._add(time.perf_counter() - started)
                yield chunk
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        started = time.perf_counter()
        try:
            return self.inner.choose(messages, options, usage)
        finally:
            self._add(time.perf_counter() - started)

    def prefill(self, messages: Sequence[Message], until: str = "") -> None:
        started = time.perf_counter()
        try:
            self.inner.prefill(messages, until)
        finally:
            self._add(time.perf_counter() - started)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # backend specifics (e.g. llama.cpp's `llm`)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_question_arguments(parser)
    parser.add_argument("--limit", type=int, default=6, help="first N questions (default 6)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # Some libraries set their own loggers to DEBUG: filter at the handler, not the logger.
    logging.getLogger().handlers[0].setLevel(logging.WARNING)

    settings = get_settings()
    runtime = load_runtime(settings)
    timed = TimedModel(runtime.model)
    runtime.model = timed
    questions = load_questions(args.questions, args.limit)
    # Warm-up outside the measurement: model load and first-call allocations are not overhead.
    runtime.complete([Message("user", "Hi")], Sampling(max_tokens=4))
    timed.seconds = 0.0
    run = evaluate(settings, questions, args.corpus, runtime=runtime, progress=True)

    ran = [r for r in run.records if r.score.latency_s is not None]
    total = sum(r.score.latency_s or 0.0 for r in ran)
    model = timed.seconds
    retrieval = sum(r.score.steps_s.get(step, 0.0) for r in ran for step in RETRIEVAL_STEPS)
    other = max(total - model - retrieval, 0.0)
    overhead = (total - model) / total if total else float("nan")
    model_spec = settings.runtime.model
    lines = [
        f"Pipeline overhead over {len(ran)} dev questions (model `{model_spec}`, search ON):",
        "",
        "| part | seconds | share of end-to-end |",
        "|---|---:|---:|",
        f"| model compute (generation + scoring) | {model:.2f} | {model / total:.1%} |",
        f"| retrieval (search + fetch + rank) | {retrieval:.2f} | {retrieval / total:.1%} |",
        (
            f"| rest (graph, checkpoints, citation check, prompts) | {other:.2f} | "
            f"{other / total:.1%} |"
        ),
        f"| end-to-end | {total:.2f} | 100% |",
        "",
        (
            f"Overhead (not model compute): {overhead:.1%} — goal <= 10%: "
            f"{'met' if overhead <= 0.10 else 'NOT met'}."
        ),
    ]
    if run.summary.errors:
        lines.append(f"({run.summary.errors} questions failed and are left out.)")
    report = "\n".join(lines)
    print(report)
    return report


if __name__ == "__main__":
    main()
