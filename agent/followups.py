"""Follow-up questions suggested after an answer: one short model call, made only once the
answer is complete, in the background: it gives way the moment a new question comes in, so
the next answer never waits for it. A failure, an unusable reply or a call given up gives no
chips."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from agent.generation import complete
from agent.prompts import render, template
from agent.state import Turn
from core.errors import MegrezSearchError
from core.settings import Settings
from runtime import Message, Runtime, Sampling, Usage

log = logging.getLogger(__name__)

FOLLOWUPS = 3
#: Earlier turns shown to the model: the last question and answer matter most.
RECENT_TURNS = 4
MAX_TURN_CHARS = 600
MAX_QUESTION_CHARS = 160
_NUMBERING = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)]|Q\d{1,2}[.:)]?)\s*")
# Markdown a small model wraps questions in (`**What is x?**`, "`lru_cache`"): a chip is text.
_MARKUP = re.compile(r"`+|\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")


def followup_prompt(turns: Sequence[Turn]) -> list[Message]:
    recent = list(turns)[-RECENT_TURNS:]
    conversation = "\n".join(
        f"{'User' if t.get('role') == 'user' else 'Assistant'}: "
        + " ".join(str(t.get("content", "")).split())[:MAX_TURN_CHARS]
        for t in recent
    )
    titles = [s["title"] for t in recent for s in t.get("sources") or [] if s.get("title")]
    return [
        Message("system", template("common", "followups_system")),
        Message(
            "user",
            render(
                "common",
                "followups_user",
                conversation=conversation,
                sources="; ".join(dict.fromkeys(titles)) or "none",
            ),
        ),
    ]


def parse_followups(text: str, asked: Sequence[str] = ()) -> list[str]:
    """Up to three distinct questions from the model's lines; repeats of asked ones dropped."""
    seen = {" ".join(q.lower().split()) for q in asked}
    questions: list[str] = []
    for line in text.splitlines():
        question = " ".join(_MARKUP.sub("", _NUMBERING.sub("", line)).split()).strip("\"' ")
        key = question.lower()
        if not question.endswith("?") or len(question) > MAX_QUESTION_CHARS or key in seen:
            continue
        seen.add(key)
        questions.append(question)
        if len(questions) == FOLLOWUPS:
            break
    return questions


def suggest_followups(runtime: Runtime, turns: Sequence[Turn], settings: Settings) -> list[str]:
    """Three follow-up questions for the conversation `turns`; [] when the model fails."""
    if not turns:
        return []
    sampling = Sampling(max_tokens=settings.agent.followup_max_tokens, temperature=0.0)
    try:
        reply = complete(
            runtime,
            followup_prompt(turns),
            sampling,
            Usage(),
            stall_timeout_s=settings.runtime.model_stall_timeout_s,
            background=True,
        )
    except MegrezSearchError as exc:
        log.info("no follow-up suggestions: %s", exc)
        return []
    if runtime.priority.give_way:
        log.info("follow-up suggestions abandoned: a question came in")
        return []
    asked = [str(t.get("content", "")) for t in turns if t.get("role") == "user"]
    return parse_followups(reply, asked)
