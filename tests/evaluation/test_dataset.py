"""Question files: the shared dev set loads; malformed files fail with every problem named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.dataset import DatasetError, load_questions, parse_questions
from tests.support.dev_set import dev_set


def _line(**fields: object) -> str:
    base: dict[str, object] = {
        "id": "q1",
        "question": "What?",
        "answers": ["x"],
        "gold_pages": ["a.html"],
        "needs_search": True,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def test_the_dev_set_loads_with_history_as_messages() -> None:
    path = dev_set()
    questions = load_questions(path)
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) == len(lines) >= 15
    assert len({q.id for q in questions}) == len(questions)
    with_history = [q for q in questions if q.history]
    assert with_history, "the dev set has multi-turn questions"
    messages = with_history[0].history_messages()
    assert [m.role for m in messages] == ["user", "assistant"]
    assert all(m.content for m in messages)
    assert load_questions(path, limit=2) == questions[:2]


def test_optional_history_and_unknown_fields_are_accepted() -> None:
    [question] = parse_questions([_line(extra_field="ignored"), ""])
    assert question.history == ()
    assert question.answers == ("x",)


def test_every_problem_is_reported_with_its_line_number() -> None:
    lines = [
        _line(id="ok"),
        "{not json",
        _line(id="no-answers", answers=...),
        _line(id="ok"),
        _line(id="bad-role", history=[{"role": "system", "content": "x"}]),
        _line(id="blank", question="   "),
        "[1, 2]",
    ]
    with pytest.raises(DatasetError) as caught:
        parse_questions(lines, "set.jsonl")
    message = str(caught.value)
    assert "set.jsonl" in message
    assert "line 2: not valid JSON" in message
    assert "line 3: answers: Field required" in message
    assert "line 4: duplicate id 'ok' (first on line 1)" in message
    assert "line 5: history.0.role" in message
    assert "line 6: question" in message
    assert "line 7: expected a JSON object" in message


def test_missing_and_empty_files_and_bad_limits_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="question file not found"):
        load_questions(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(DatasetError, match="holds no questions"):
        load_questions(empty)
    one = tmp_path / "one.jsonl"
    one.write_text(_line() + "\n")
    with pytest.raises(DatasetError, match="--limit must be at least 1"):
        load_questions(one, limit=0)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match="cannot read question file"):
        load_questions(binary)
