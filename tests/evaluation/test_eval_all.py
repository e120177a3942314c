"""`python -m benchmarks eval-all`: every dev set over its own corpus in one table, with the
wrong answers split into reading errors and retrieval errors."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.eval_all import (
    DEV_SETS,
    SetOutcome,
    add_dev_set_arguments,
    chosen_sets,
    dev_set_settings,
    report,
    wrong_answers,
)
from evaluation.dataset import Question, load_questions
from evaluation.metrics import QuestionScore, summarize
from evaluation.runner import EvalRun, QuestionRecord
from tests.support.dev_set import dev_set_path
from tests.support.docs_index import REPO, cli_env


def _record(
    id: str,
    answer_correct: bool | None,
    context_hit: bool | None,
    in_language: bool | None = None,
    needs_search: bool = True,
) -> QuestionRecord:
    question = Question(
        id=id, question="q", answers=("a",), gold_pages=("p.html",), needs_search=needs_search
    )
    score = QuestionScore(
        id=id,
        decision_correct=True,
        answer_correct=answer_correct,
        context_hit=context_hit,
        language_match=in_language,
    )
    return QuestionRecord(question, score)


def test_wrong_answers_are_split_by_whether_the_passages_held_the_answer() -> None:
    records = [
        _record("right", True, True, in_language=True),
        _record("misread", False, True, in_language=False),
        _record("not-found", False, False),
        _record("no-search", False, None),
        _record("translate", False, None, needs_search=False),
        _record("open-ended", None, None),
    ]
    run = EvalRun("agent", "m", records, summarize([r.score for r in records]))
    assert wrong_answers(run) == (["misread"], ["not-found", "no-search"], ["translate"])
    text = report(
        [
            SetOutcome(DEV_SETS[1], run, reading_errors=["misread"], retrieval_errors=["x"]),
            SetOutcome(DEV_SETS[2], skipped="corpus not installed: /nowhere"),
        ],
        "m",
        "cmd",
    )
    assert "| dev-git | /usr/share/doc/git-doc | 6 | 1.00 |" in text
    header = next(line for line in text.splitlines() if line.startswith("| set |"))
    assert header.endswith("| answers in the question's language |")
    dev_git = next(line for line in text.splitlines() if line.startswith("| dev-git |"))
    assert dev_git.endswith("| 0.50 |")  # one of the two answers with words is in its language
    assert "| dev-zh | /usr/share/doc/python3.11/html | skipped: corpus not installed" in text
    assert "- dev-git: reading errors (the passages held the answer): misread; " in text
    assert "; no search needed (the model's own answer): none" in text


@pytest.mark.slow
def test_eval_all_runs_a_slice_of_every_dev_set(tmp_path: Path) -> None:
    """The tiny model on each set's first two questions, each set over a corpus of its slice's
    gold pages (indexing the whole Python docs and git manual would take minutes)."""
    dev = dev_set_path()
    if dev is None:
        pytest.skip("the shared dev sets (shared/eval/) are not beside the repository")
    command = [
        sys.executable, "-m", "benchmarks", "eval-all", "--limit", "2", "--eval-dir",
        str(dev.parent), "--data-dir", str(tmp_path / "data"), "--output", str(tmp_path / "r.md"),
    ]  # fmt: skip
    installed = []
    for dev_set in DEV_SETS:
        questions = load_questions(dev.parent / dev_set.questions, limit=2)
        pages = {page for question in questions for page in question.gold_pages}
        if not all((dev_set.corpus / page).is_file() for page in pages):
            continue  # its corpus is not installed: the report says it was skipped
        corpus = tmp_path / dev_set.name
        for page in pages:
            (corpus / page).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(dev_set.corpus / page, corpus / page)
        command += ["--corpus", f"{dev_set.name}={corpus}"]
        installed.append(dev_set.name)
    result = subprocess.run(
        command, check=False, cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / "r.md").read_text()
    assert "model `embedded:tiny`" in text
    for dev_set in DEV_SETS:
        row = next(line for line in text.splitlines() if line.startswith(f"| {dev_set.name} |"))
        if dev_set.name not in installed:
            assert "skipped" in row
            continue
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[2] == "2", row  # a 2-question slice
        figures = [float(cell) for cell in cells[3:] if cell != "–"]
        assert figures and all(0.0 <= value <= 1.0 for value in figures), row
        assert f"- {dev_set.name}: reading errors" in text


def test_a_set_run_reports_each_wrong_answer_under_its_own_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import eval_all

    records = [
        _record("misread", False, True),
        _record("not-found", False, False),
        _record("translate", False, None, needs_search=False),
    ]
    run = EvalRun("agent", "m", records, summarize([r.score for r in records]))
    monkeypatch.setattr(eval_all, "evaluate", lambda *args, **kwargs: run)
    (tmp_path / DEV_SETS[0].questions).write_text(
        '{"id": "q", "question": "q", "answers": ["a"], "gold_pages": [], "needs_search": true}\n'
    )
    dev_set = replace(DEV_SETS[0], corpus=tmp_path)
    outcome = eval_all.run_set(dev_set, tmp_path, dev_set_settings(_no_args()), None)
    assert outcome.skipped is None
    assert outcome.reading_errors == ["misread"]
    assert outcome.retrieval_errors == ["not-found"]
    assert outcome.unsearched_errors == ["translate"]


def _no_args() -> argparse.Namespace:
    return argparse.Namespace(model=None, data_dir=None)


def test_both_dev_set_benchmarks_read_the_same_arguments(tmp_path: Path) -> None:

    parser = argparse.ArgumentParser()
    add_dev_set_arguments(parser)
    args = parser.parse_args(
        ["--eval-dir", str(tmp_path), "--sets", "dev-zh, dev", "--corpus", f"dev={tmp_path}"]
    )
    chosen = chosen_sets(args)
    assert [d.name for d in chosen] == ["dev", "dev-zh"]  # in their order, not the asked one
    assert chosen[0].corpus == tmp_path and chosen[1].corpus != tmp_path
    args = parser.parse_args(["--eval-dir", str(tmp_path), "--model", "embedded:tiny"])
    assert dev_set_settings(args).runtime.model == "embedded:tiny"
    with pytest.raises(SystemExit) as exited:
        chosen_sets(parser.parse_args(["--eval-dir", str(tmp_path), "--sets", "dev,nope"]))
    assert exited.value.code == 2
