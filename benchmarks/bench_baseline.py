"""Side by side: the agent versus the InfiniWebSearch pipeline, same questions, same model.

InfiniWebSearch (see evaluation/baseline.py) summarises each of the top 5 pages in a
model call of its own; the agent ranks passages under a token budget instead. Both run in one
process on one loaded model over the same loopback corpus and index, and are scored by the
same metrics. Goal: at least 3x fewer model tokens and 2x lower latency at equal or better
answer accuracy. Usage:

    .venv/bin/python -m benchmarks.bench_baseline [--limit N] [--report DIR]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from benchmarks.eval_args import add_question_arguments
from core.settings import get_settings
from evaluation.baseline import InfiniWebSearchBaseline
from evaluation.dataset import load_questions
from evaluation.metrics import Summary, summarize
from evaluation.report import summary_table, write_report
from evaluation.runner import (
    EvalRun,
    agent_pipeline,
    corpus_environment,
    page_text_lookup,
    run_questions,
)
from runtime import load_runtime
from wiring import search_agent


def _tokens(summary: Summary) -> float:
    return (summary.prompt_tokens_mean or 0.0) + (summary.completion_tokens_mean or 0.0)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return numerator / denominator


def verdict(agent: Summary, baseline: Summary) -> list[str]:
    """The issue's three goals, each as met / not met with its figure."""
    tokens = _ratio(_tokens(baseline), _tokens(agent))
    latency = _ratio(baseline.latency_median_s, agent.latency_median_s)
    accuracy_ok = (agent.answer_accuracy or 0.0) >= (baseline.answer_accuracy or 0.0)

    def fmt(ratio: float | None) -> str:
        return "n/a" if ratio is None else f"{ratio:.1f}x"

    return [
        (
            f"- model tokens: baseline / agent = {fmt(tokens)} (goal >= 3x): "
            f"{'met' if tokens and tokens >= 3 else 'NOT met'}"
        ),
        (
            f"- median latency: baseline / agent = {fmt(latency)} (goal >= 2x): "
            f"{'met' if latency and latency >= 2 else 'NOT met'}"
        ),
        (
            f"- answer accuracy: agent {agent.answer_accuracy or 0:.2f} vs baseline "
            f"{baseline.answer_accuracy or 0:.2f} (goal: equal or better): "
            f"{'met' if accuracy_ok else 'NOT met'}"
        ),
    ]


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_question_arguments(parser)
    parser.add_argument("--limit", type=int, help="first N questions (default: all)")
    parser.add_argument("--report", type=Path, help="also write a Markdown report with plots here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # Some libraries set their own loggers to DEBUG: filter at the handler, not the logger.
    logging.getLogger().handlers[0].setLevel(logging.WARNING)

    settings = get_settings()
    runtime = load_runtime(settings)  # one model for both pipelines
    questions = load_questions(args.questions, args.limit)
    runs: list[EvalRun] = []
    with corpus_environment(settings, args.corpus) as (run_settings, corpus):
        page_text = page_text_lookup(run_settings)
        with search_agent(run_settings, runtime) as agent:
            pipelines = [
                ("agent", agent_pipeline(agent)),
                ("baseline", InfiniWebSearchBaseline(runtime, run_settings)),
            ]
            for name, pipeline in pipelines:
                started = time.perf_counter()
                records = run_questions(questions, pipeline, corpus.base_url, page_text, desc=name)
                runs.append(
                    EvalRun(
                        name,
                        settings.runtime.model,
                        records,
                        summarize([r.score for r in records]),
                        corpus,
                        time.perf_counter() - started,
                    )
                )
    agent_run, baseline_run = runs
    lines = [
        (
            f"Agent vs InfiniWebSearch baseline, {len(questions)} questions of "
            f"`{args.questions.name}`, "
            f"model `{settings.runtime.model}`, one run:"
        ),
        "",
        summary_table([(r.name, r.summary) for r in runs]),
        "",
        *verdict(agent_run.summary, baseline_run.summary),
    ]
    if args.report:
        path = write_report(
            args.report,
            agent_run,
            others=[baseline_run],
            command="python -m benchmarks.bench_baseline " + " ".join(argv or []),
        )
        lines += ["", f"Report: {path}"]
    report = "\n".join(lines)
    print(report)
    return report


if __name__ == "__main__":
    main()
