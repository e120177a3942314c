"""`python -m benchmarks latency`: per-step medians on each dev set and the next question's
wait, run for real with the tiny model on one question of each set."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench_latency import COLUMNS, CallClock
from benchmarks.eval_all import DEV_SETS
from evaluation.dataset import load_questions
from runtime import Choice, Message, Sampling, Usage
from runtime.base import ChatModel
from tests.support.dev_set import dev_set_path
from tests.support.docs_index import REPO, cli_env


class _Words(ChatModel):
    def stream(self, messages, sampling, usage=None):  # type: ignore[no-untyped-def]
        yield from ("one ", "two")

    def choose(self, messages, options, usage=None):  # type: ignore[no-untyped-def]
        return Choice(option=options[0])

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_the_call_clock_counts_only_calls_begun_before_the_moment() -> None:
    clock = CallClock(_Words())
    assert "".join(clock.stream([Message("user", "q")], Sampling(), Usage())) == "one two"
    ((started, ended),) = clock.calls
    middle = (started + ended) / 2
    assert clock.held_after(middle) == pytest.approx(ended - middle)
    assert clock.held_after(started - 1.0) == 0.0  # begun after the moment: not a wait
    assert clock.held_after(ended + 1.0) == 0.0  # ended before it: held nothing after it
    clock.choose([Message("user", "q")], ["a", "b"])
    assert len(clock.calls) == 2 and clock.busy.is_set()


@pytest.mark.slow
def test_latency_benchmark_reports_every_step_of_one_question_per_set(tmp_path: Path) -> None:
    dev = dev_set_path()
    if dev is None:
        pytest.skip("the shared dev sets (shared/eval/) are not beside the repository")
    command = [
        sys.executable, "-m", "benchmarks", "latency", "--limit", "1", "--eval-dir",
        str(dev.parent), "--data-dir", str(tmp_path / "data"),
    ]  # fmt: skip
    installed = []
    for dev_set in DEV_SETS:
        questions = load_questions(dev.parent / dev_set.questions, limit=1)
        pages = {page for question in questions for page in question.gold_pages}
        if not all((dev_set.corpus / page).is_file() for page in pages):
            continue
        corpus = tmp_path / dev_set.name  # its gold pages only: indexing all takes minutes
        for page in pages:
            (corpus / page).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(dev_set.corpus / page, corpus / page)
        command += ["--corpus", f"{dev_set.name}={corpus}"]
        installed.append(dev_set.name)
    result = subprocess.run(
        command, check=False, cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout
    assert "model `embedded:tiny`" in text and "load average" in text
    header = next(line for line in text.splitlines() if line.startswith("| set |"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "set", "questions", *COLUMNS, "next question waits",
    ]  # fmt: skip
    for dev_set in DEV_SETS:
        row = next(line for line in text.splitlines() if line.startswith(f"| {dev_set.name} |"))
        if dev_set.name not in installed:
            assert "skipped" in row
            continue
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        figures = dict(zip(COLUMNS, cells[2:-1], strict=True))
        assert cells[1] == "1", row
        # The first question of every set searches: its steps and answer all took time.
        columns = ("decide, first turn", "search", "fetch", "select", "sources", "first token")
        for column in (*columns, "done"):
            assert float(figures[column]) > 0.0, (column, row)
        assert float(figures["first token"]) <= float(figures["done"]), row
        assert float(figures["sources"]) <= float(figures["first token"]), row
        assert float(cells[-1]) >= 0.0, row
