"""`megrez-search eval` end to end: the dev set's first questions over the real docs corpus,
the embedded model, a real loopback server and index, and the CLI as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli.main import main
from evaluation.metrics import JSON_KEYS
from evaluation.runner import DOCS_CORPUS
from tests.support.dev_set import dev_set
from tests.support.docs_index import run_cli


def _eval(*args: str, data_dir: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return run_cli("eval", *args, data_dir=data_dir, timeout=timeout)


@pytest.mark.slow
def test_eval_prints_the_metrics_line_and_writes_the_report(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    if not (DOCS_CORPUS / "library" / "functools.html").exists():
        pytest.skip("needs python3.11-doc")
    questions = dev_set()
    # The corpus index is kept between sessions (it is rebuilt when the docs change).
    cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    data_dir = cache.mkdir("megrez-eval-data") if cache is not None else tmp_path
    report = tmp_path / "report"
    result = _eval(
        "--questions",
        str(questions),
        "--corpus",
        str(DOCS_CORPUS),
        "--limit",
        "2",
        "--json",
        "--report",
        str(report),
        data_dir=data_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(JSON_KEYS) <= set(metrics)
    assert metrics["n"] == 2
    for key in ("decision_accuracy", "retrieval_recall", "answer_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0, key
    for key in ("citation_precision", "citation_coverage"):
        assert metrics[key] is None or 0.0 <= metrics[key] <= 1.0, key
    assert metrics["latency_p95_s"] >= metrics["latency_median_s"] > 0
    assert 0 < metrics["ttft_median_s"] <= metrics["latency_p95_s"]
    assert metrics["prompt_tokens_mean"] > 0 and metrics["completion_tokens_mean"] > 0
    # Both dev questions need search and the docs hold their answers: pages were read.
    assert metrics["pages_fetched_mean"] >= 1
    text = (report / "report.md").read_text()
    assert "| dev-01 |" in text and "| dev-02 |" in text
    for png in ("metrics.png", "latency-agent.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = [json.loads(line) for line in (report / "records.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["dev-01", "dev-02"]
    assert all(r["searched"] is not None and r["answer"] for r in records)


def test_bad_input_ends_in_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*args: str) -> tuple[int, str]:
        code = main(["--data-dir", str(tmp_path), "eval", *args])
        return code, capsys.readouterr().err

    code, err = run("--questions", str(tmp_path / "none.jsonl"), "--corpus", str(tmp_path))
    assert code == 2 and "question file not found" in err and "Traceback" not in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "Hi"}\n')
    code, err = run("--questions", str(bad), "--corpus", str(tmp_path))
    assert code == 2 and "line 1: answers: Field required" in err
    code, err = run("--questions", str(bad), "--corpus", str(tmp_path / "nope"))
    assert code == 2 and "corpus folder not found" in err
    good = tmp_path / "good.jsonl"
    good.write_text(
        '{"id": "x", "question": "Hi", "answers": [], "gold_pages": [], "needs_search": false}\n'
    )
    code, err = run("--questions", str(good), "--corpus", str(tmp_path), "--limit", "0")
    assert code == 2 and "--limit must be at least 1" in err
