"""The evaluation report: a Markdown page with the overall figures, a per-question table and
two PNG plots (metric bars, latency breakdown per question), plus the raw records as jsonl.

    write_report(Path("eval-report"), run)          # -> eval-report/report.md, *.png, records.jsonl
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import MegrezSearchError

from .metrics import Summary
from .runner import EvalRun, QuestionRecord

log = logging.getLogger(__name__)

METRIC_LABELS = {
    "decision_accuracy": "decision accuracy",
    "retrieval_recall": "retrieval recall",
    "context_recall": "context recall",
    "retrieval_recall_all": "retrieval recall (all gold pages)",
    "answer_accuracy": "answer accuracy",
    "answer_language_match": "answers in the question's language",
    "citation_precision": "citation precision (checker)",
    "strict_citation_precision": "citation precision (strict)",
    "citation_coverage": "citation coverage",
}
# Steps of the agent's graph in flow order; the rest of the total is graph/pipeline overhead.
STEP_ORDER = (
    "perceive",
    "decide",
    "rewrite",
    "search",
    "fetch",
    "rank",
    "answer",
    "summarize",
    "check_citations",
    "finish",
)


class ReportError(MegrezSearchError):
    """The report folder cannot be written."""


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _mark(value: bool | None) -> str:
    return "–" if value is None else ("✓" if value else "✗")


def _cell(text: str, width: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def _metric(summary: Summary, key: str) -> str:
    return _fmt(getattr(summary, key))


def summary_table(summaries: Sequence[tuple[str, Summary]]) -> str:
    """The overall figures of one or more runs as a Markdown table, one column per run."""
    rows: list[tuple[str, Callable[[Summary], str]]] = [
        ("questions", lambda s: str(s.n)),
        ("failed questions", lambda s: str(s.errors)),
        *[(label, functools.partial(_metric, key=key)) for key, label in METRIC_LABELS.items()],
        ("latency median (s)", lambda s: _fmt(s.latency_median_s)),
        ("latency p95 (s)", lambda s: _fmt(s.latency_p95_s)),
        ("time to first token, median (s)", lambda s: _fmt(s.ttft_median_s)),
        ("prompt tokens / question", lambda s: _fmt(s.prompt_tokens_mean, 0)),
        ("completion tokens / question", lambda s: _fmt(s.completion_tokens_mean, 0)),
        ("pages fetched / question", lambda s: _fmt(s.pages_fetched_mean, 1)),
        ("citations written by the model", lambda s: str(s.model_citations)),
        ("final citations strictly checked", lambda s: str(s.strict_checked)),
    ]
    head = "| metric | " + " | ".join(name for name, _ in summaries) + " |"
    rule = "|---|" + "---|" * len(summaries)
    body = [
        "| " + label + " | " + " | ".join(get(s) for _, s in summaries) + " |"
        for label, get in rows
    ]
    return "\n".join([head, rule, *body])


def question_table(records: Sequence[QuestionRecord]) -> str:
    head = (
        "| id | question | searched | decision | retrieval | answer | cit. prec. | coverage | "
        "latency (s) | tokens (p/c) | answer / error |"
    )
    rule = "|---|---|---|---|---|---|---|---|---|---|---|"
    rows = []
    for record in records:
        score, result = record.score, record.result
        text = f"**error:** {record.error}" if record.error else (result.answer if result else "")
        if record.error and result and result.answer:
            text = f"{result.answer} — **error:** {record.error}"
        rows.append(
            f"| {record.question.id} | {_cell(record.question.question, 60)} | "
            f"{_mark(result.searched) if result else '–'} | {_mark(score.decision_correct)} | "
            f"{_mark(score.retrieval_hit)} | {_mark(score.answer_correct)} | "
            f"{_fmt(score.citation_precision)} | {_fmt(score.citation_coverage)} | "
            f"{_fmt(score.latency_s)} | {score.prompt_tokens}/{score.completion_tokens} | "
            f"{_cell(text)} |"
        )
    return "\n".join([head, rule, *rows])


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ReportError(
            "plots need matplotlib: `pip install matplotlib` (or run without --report)"
        ) from exc
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_metrics(path: Path, summaries: Sequence[tuple[str, Summary]]) -> None:
    """Grouped bars of the quality metrics (0..1), one group per metric, one bar per run."""
    plt = _pyplot()
    keys = list(METRIC_LABELS)
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(summaries), 1)
    for i, (name, summary) in enumerate(summaries):
        values = [getattr(summary, key) for key in keys]
        xs = [k + i * width for k in range(len(keys))]
        bars = ax.bar(xs, [v or 0.0 for v in values], width, label=name)
        for bar, value in zip(bars, values):
            ax.annotate(
                "n/a" if value is None else f"{value:.2f}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks([k + width * (len(summaries) - 1) / 2 for k in range(len(keys))])
    ax.set_xticklabels([METRIC_LABELS[k].replace(" (", "\n(") for k in keys], fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share")
    ax.set_title("Quality metrics")
    if len(summaries) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ordered_steps(records: Sequence[QuestionRecord]) -> list[str]:
    seen = {step for r in records for step in r.score.steps_s}
    return [s for s in STEP_ORDER if s in seen] + sorted(seen - set(STEP_ORDER))


def plot_latency(
    path: Path, records: Sequence[QuestionRecord], title: str = "Latency breakdown"
) -> None:
    """Stacked horizontal bars: seconds per step for each question, the rest as overhead."""
    plt = _pyplot()
    ran = [r for r in records if r.score.latency_s is not None]
    steps = _ordered_steps(ran)
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(ran) + 1.6))
    left = [0.0] * len(ran)
    labels = [r.question.id for r in ran]
    for step in [*steps, "other"]:
        if step == "other":
            widths = [
                max((r.score.latency_s or 0.0) - sum(r.score.steps_s.values()), 0.0) for r in ran
            ]
        else:
            widths = [r.score.steps_s.get(step, 0.0) for r in ran]
        ax.barh(labels, widths, left=left, label=step)
        left = [a + b for a, b in zip(left, widths)]
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.legend(
        fontsize=7,
        ncol=min(len(steps) + 1, 6),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12 if ran else 0.5),
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    folder: Path,
    run: EvalRun,
    *,
    command: str = "",
    others: Sequence[EvalRun] = (),
) -> Path:
    """Write `folder`/report.md with plots and records; `others` are runs shown side by side."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create report folder {folder}: {exc}") from exc
    runs = [run, *others]
    summaries = [(r.name, r.summary) for r in runs]
    plot_metrics(folder / "metrics.png", summaries)
    for r in runs:
        plot_latency(folder / f"latency-{r.name}.png", r.records, f"Latency breakdown ({r.name})")
    with (folder / "records.jsonl").open("w", encoding="utf-8") as handle:
        for r in runs:
            for record in r.records:
                handle.write(json.dumps({"run": r.name, **record.to_json()}) + "\n")
    steps = run.summary.steps_mean_s
    lines = [
        f"# Evaluation report — {datetime.now().isoformat(timespec='seconds')}",
        "",
        f"- model: `{run.model}`",
        f"- questions: {run.summary.n}"
        + (
            f", corpus: `{run.corpus.root}` served at {run.corpus.base_url}"
            f" (index `{run.corpus.index_name}`"
            f"{', reused' if run.corpus.reused else ', built this run'})"
            if run.corpus
            else ""
        ),
        f"- wall time: {run.seconds:.1f} s",
    ]
    if command:
        lines.append(f"- command: `{command}`")
    lines += [
        "",
        "## Overall",
        "",
        summary_table(summaries),
        "",
        "![quality metrics](metrics.png)",
        "",
        "## Latency",
        "",
        "Mean seconds per step ("
        + run.name
        + "): "
        + (", ".join(f"{step} {seconds:.2f}" for step, seconds in steps.items()) or "–"),
        "",
    ]
    for r in runs:
        lines += [f"![latency breakdown {r.name}](latency-{r.name}.png)", ""]
    for r in runs:
        lines += [f"## Questions ({r.name})", "", question_table(r.records), ""]
        failed = [rec for rec in r.records if rec.error]
        if failed:
            lines += ["### Errors", ""]
            lines += [f"- `{rec.question.id}`: {rec.error}" for rec in failed]
            lines.append("")
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    log.info("report written to %s", path)
    return path
