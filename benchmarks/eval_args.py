"""The question-set arguments the evaluation benchmarks share (not a benchmark itself)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.settings import get_settings
from evaluation.runner import DOCS_CORPUS


def add_question_arguments(parser: argparse.ArgumentParser) -> None:
    """--questions (default MEGREZ_EVAL_QUESTIONS, else required) and --corpus."""
    configured = get_settings().evaluation.eval_questions
    parser.add_argument(
        "--questions",
        type=Path,
        default=configured,
        required=configured is None,
        help="question file (default: MEGREZ_EVAL_QUESTIONS)",
    )
    parser.add_argument("--corpus", type=Path, default=DOCS_CORPUS)
