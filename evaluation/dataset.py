"""Question sets: one JSON object a line, the format of the shared `eval/README.md`.

    {"id": "dev-01", "question": "...", "history": [{"role": "user", "content": "..."}],
     "answers": ["128"], "gold_pages": ["library/functools.html"], "needs_search": true}

`history` is optional; unknown fields are ignored so richer sets still load. Every problem is
reported with its line number, all of them at once, so a file is fixed in one go.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import MegrezSearchError
from runtime import Message

log = logging.getLogger(__name__)


class DatasetError(MegrezSearchError):
    """The question file is missing or not in the expected format."""


class HistoryTurn(BaseModel):
    """One earlier message of a question's conversation (not the agent's recorded `Turn`)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "assistant"]
    content: str


class Question(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    history: tuple[HistoryTurn, ...] = ()
    answers: tuple[str, ...]
    gold_pages: tuple[str, ...]
    needs_search: bool
    hops: int = 1  # 2: the answer needs facts from two pages (both in gold_pages)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def history_messages(self) -> list[Message]:
        return [Message(turn.role, turn.content) for turn in self.history]


def parse_questions(lines: Sequence[str], source: str = "<questions>") -> list[Question]:
    """Questions from jsonl `lines`; blank lines are skipped. Raises `DatasetError`."""
    questions: list[Question] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(data, dict):
            problems.append(f"line {number}: expected a JSON object, got {type(data).__name__}")
            continue
        try:
            question = Question.model_validate(data)
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'object'}: {error['msg']}"
                for error in exc.errors()
            )
            problems.append(f"line {number}: {details}")
            continue
        if question.id in seen:
            problems.append(
                f"line {number}: duplicate id {question.id!r} (first on line {seen[question.id]})"
            )
            continue
        seen[question.id] = number
        questions.append(question)
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DatasetError(
            f"{source} is not a valid question file (one JSON object a line with id, question, "
            f"answers, gold_pages, needs_search; optional history):\n  {shown}{more}"
        )
    if not questions:
        raise DatasetError(f"{source} holds no questions")
    return questions


def load_questions(path: Path, limit: int | None = None) -> list[Question]:
    """The questions of jsonl file `path` (the first `limit` of them, if given)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"question file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read question file {path}: {exc}") from exc
    questions = parse_questions(text.splitlines(), str(path))
    if limit is not None:
        if limit < 1:
            raise DatasetError(f"--limit must be at least 1, got {limit}")
        questions = questions[:limit]
    log.info("loaded %d questions from %s", len(questions), path)
    return questions
