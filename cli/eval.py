"""`megrez-search eval`: how good the agent is on a question set, in figures.

    megrez-search eval --questions dev.jsonl --corpus /usr/share/doc/python3.11/html --json

Serves the corpus folder on loopback, indexes it (reused while unchanged), runs every question
through the agent with search ON, and prints the metrics; `--json` makes the last stdout line
one JSON object, `--report DIR` writes a Markdown report with plots.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from core.errors import MegrezSearchError
from core.settings import Settings

from . import SettingsFromArgs

log = logging.getLogger(__name__)


def register(
    subparsers: argparse._SubParsersAction,
    settings_from_args: SettingsFromArgs,
) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score the agent on a question set (accuracy, citations, latency, tokens)",
        description="Run every question of FILE (jsonl: id, question, optional history, answers, "
        "gold_pages, needs_search) through the agent with search ON over the HTML folder DIR, "
        "served on 127.0.0.1 and indexed as a local: index, and report decision accuracy, "
        "retrieval recall, answer accuracy, citation precision and coverage, latency and tokens.",
    )
    parser.add_argument(
        "--questions",
        type=Path,
        required=True,
        metavar="FILE",
        help="question set, one JSON object a line",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder of HTML pages the gold_pages are relative to",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    parser.add_argument(
        "--hops", type=int, metavar="N", help="only the questions marked `hops: N` (e.g. 2)"
    )
    parser.add_argument(
        "--deep",
        action="store_true",
        help="run every question in normal mode and in deep mode and report both side by side "
        '(with --json: {"agent": ..., "deep": ...} on the last line)',
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the overall metrics as one JSON object on the last line",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write DIR/report.md with a per-question table and PNG plots",
    )
    parser.set_defaults(handler=lambda args: run_eval_command(args, settings_from_args(args)))


class EvalInputError(MegrezSearchError):
    """The eval command's arguments cannot be used."""


def run_eval_command(args: argparse.Namespace, settings: Settings) -> int:
    from evaluation.dataset import load_questions
    from evaluation.report import summary_table, write_report
    from evaluation.runner import evaluate

    if not args.corpus.is_dir():
        raise EvalInputError(f"corpus folder not found: {args.corpus}; give a folder of HTML pages")
    questions = load_questions(args.questions, args.limit)
    hops = getattr(args, "hops", None)
    if hops is not None:
        questions = [q for q in questions if q.hops == hops]
        if not questions:
            raise EvalInputError(f"no question of {args.questions} has hops = {hops}")
    run = evaluate(settings, questions, args.corpus, progress=True)
    others = []
    if getattr(args, "deep", False):
        others.append(evaluate(settings, questions, args.corpus, progress=True, deep=True))
    if args.report is not None:
        path = write_report(args.report, run, command=_command_line(args), others=others)
        print(f"report: {path}", file=sys.stderr)
    summary = run.summary
    if args.json and others:
        figures = {r.name: r.summary.to_json() for r in [run, *others]}
        print(json.dumps(figures), flush=True)
    elif args.json:
        print(json.dumps(summary.to_json()), flush=True)
    else:
        print(summary_table([(r.name, r.summary) for r in [run, *others]]))
    if summary.errors:
        log.warning(
            "%d of %d questions failed; see the report for details", summary.errors, summary.n
        )
    # Every question failing means the setup is broken, not the agent's answers.
    return 1 if summary.n and summary.errors == summary.n else 0


def _command_line(args: argparse.Namespace) -> str:
    """The eval command as typed (settings from flags or env are in the report's model line)."""
    parts = [
        "megrez-search",
        "eval",
        "--questions",
        str(args.questions),
        "--corpus",
        str(args.corpus),
    ]
    if args.limit is not None:
        parts += ["--limit", str(args.limit)]
    if getattr(args, "hops", None) is not None:
        parts += ["--hops", str(args.hops)]
    if getattr(args, "deep", False):
        parts.append("--deep")
    if args.json:
        parts.append("--json")
    parts += ["--report", str(args.report)]
    return shlex.join(parts)
