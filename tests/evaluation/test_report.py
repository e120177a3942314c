"""The Markdown report: overall table, per-question table, errors, PNG plots, raw records."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from agent.result import AskResult
from evaluation.dataset import parse_questions
from evaluation.metrics import failed_question, summarize
from evaluation.report import summary_table, write_report
from evaluation.runner import EvalRun, QuestionRecord, run_questions, score_result

BASE = "http://127.0.0.1:20001/"
LINES = [
    (
        '{"id": "q-ok", "question": "Default maxsize of lru_cache?", "answers": ["128"], '
        '"gold_pages": ["library/functools.html"], "needs_search": true}'
    ),
    (
        '{"id": "q-chat", "question": "Hi | there!", "answers": [], "gold_pages": [], '
        '"needs_search": false}'
    ),
    (
        '{"id": "q-failed", "question": "Width of textwrap?", "answers": ["70"], '
        '"gold_pages": ["library/textwrap.html"], "needs_search": true}'
    ),
]


def _run() -> EvalRun:
    ok, chat, failed = parse_questions(LINES)
    answered = AskResult(
        answer="The default maxsize is 128 [1].",
        thread_id="t1",
        searched=True,
        queries=["lru_cache maxsize"],
        sources=[{"n": 1, "url": BASE + "library/functools.html", "title": "functools"}],
        citations=[1],
        timings={
            "decide": 0.3,
            "search": 0.05,
            "fetch": 0.4,
            "rank": 0.1,
            "answer": 2.0,
            "total": 3.0,
        },
        tokens={"prompt": 800, "completion": 30},
        ttft_s=1.2,
        fetched=[{"url": BASE + "library/functools.html", "title": "functools", "ok": True}],
        citation_checks=[{"cited": 1, "final": 1, "verdict": "supported"}],
    )
    greeting = AskResult(
        answer="Hello! How can I help?",
        thread_id="t2",
        searched=False,
        timings={"decide": 0.2, "answer": 0.5, "total": 0.8},
        tokens={"prompt": 100, "completion": 8},
        ttft_s=0.3,
    )
    pages = {BASE + "library/functools.html": "lru_cache(maxsize=128, typed=False)"}
    records = [
        QuestionRecord(ok, score_result(ok, answered, BASE, pages.get), answered),
        QuestionRecord(chat, score_result(chat, greeting, BASE, pages.get), greeting),
        QuestionRecord(
            failed,
            failed_question(
                "q-failed",
                True,
                ["70"],
                ["library/textwrap.html"],
                "ModelCallError: the model stalled",
            ),
        ),
    ]
    return EvalRun("agent", "embedded", records, summarize([r.score for r in records]))


def test_scores_from_a_result() -> None:
    run = _run()
    ok = run.records[0].score
    assert (ok.decision_correct, ok.retrieval_hit, ok.answer_correct) == (True, True, True)
    assert ok.strict_citation_precision == 1.0 and ok.citation_coverage == 1.0
    assert run.summary.answer_accuracy == 0.5 and run.summary.errors == 1


def test_report_has_tables_errors_plots_and_records(tmp_path: Path) -> None:
    run = _run()
    other = EvalRun(
        "baseline", "embedded", run.records[:2], summarize([r.score for r in run.records[:2]])
    )
    path = write_report(tmp_path / "out", run, command="megrez-search eval ...", others=[other])
    text = path.read_text()
    assert "| metric | agent | baseline |" in text
    assert "| answer accuracy | 0.50 | 1.00 |" in text
    assert "| q-ok | Default maxsize of lru_cache? | ✓ | ✓ | ✓ | ✓ |" in text
    assert "Hi \\| there!" in text  # a pipe in a question does not break the table
    assert "- `q-failed`: ModelCallError: the model stalled" in text
    for name in ("metrics.png", "latency-agent.png", "latency-baseline.png"):
        with Image.open(tmp_path / "out" / name) as image:
            assert image.format == "PNG" and image.width > 300
    records = [
        json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()
    ]
    assert [(r["run"], r["id"]) for r in records][:3] == [
        ("agent", "q-ok"),
        ("agent", "q-chat"),
        ("agent", "q-failed"),
    ]
    assert records[2]["error"] and records[2]["answer"] is None
    # Each citation can be reviewed against the passage it names.
    assert {"citation_checks", "passages"} <= records[0].keys()


def test_summary_table_shows_missing_figures_as_dashes() -> None:
    run = _run()
    only_chat = summarize([run.records[1].score])
    table = summary_table([("agent", only_chat)])
    assert "| retrieval recall | – |" in table
    assert "| decision accuracy | 1.00 |" in table


def test_a_failing_question_is_recorded_and_the_run_goes_on() -> None:
    questions = parse_questions(LINES)

    def pipeline(question):  # type: ignore[no-untyped-def]
        if question.id == "q-chat":
            raise RuntimeError("backend exploded")
        return AskResult(
            answer="It is 128 [1].",
            thread_id="t",
            searched=True,
            sources=[{"n": 1, "url": BASE + "library/functools.html", "title": "f"}],
            citations=[1],
            timings={"total": 1.0},
            fetched=[{"url": BASE + "library/functools.html", "ok": True}],
        )

    records = run_questions(questions, pipeline, BASE, lambda url: None, progress=False)
    assert [r.question.id for r in records] == ["q-ok", "q-chat", "q-failed"]
    assert records[1].error == "RuntimeError: backend exploded" and records[1].result is None
    assert records[0].score.answer_correct is True
    assert records[2].score.answer_correct is False  # "70" is not in the answer
    assert records[0].score.strict_citation_precision == 0.0  # cited page text unreadable
    assert summarize([r.score for r in records]).errors == 1
