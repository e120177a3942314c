"""What every node shares: the step wrapper (status event + timing) and small helpers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.dialect import history_messages
from agent.events import StepEvent
from agent.state import AgentState
from retrieval.scripts import language_of
from runtime import Message, Usage

log = logging.getLogger(__name__)

NodeBody = Callable[[AgentState, StreamWriter, AgentDeps], dict[str, Any]]
Label = str | Callable[[AgentState], str | None] | None


def step(name: str, label: Label = None) -> Callable[[NodeBody], Callable[..., dict[str, Any]]]:
    """Make `body(state, writer, deps)` a graph node named `name`.

    The node announces itself with a `StepEvent` (when it has a label for this state) and
    records its wall time under `timings[name]`.
    """

    def wrap(body: NodeBody) -> Callable[..., dict[str, Any]]:
        # Not functools.wraps: LangGraph reads the node's own signature (writer injection).
        def node(state: AgentState, writer: StreamWriter, *, deps: AgentDeps) -> dict[str, Any]:
            text = label(state) if callable(label) else label
            if text:
                writer(StepEvent(step=name, label=text))
            started = time.perf_counter()
            update = body(state, writer, deps)
            update["timings"] = {name: time.perf_counter() - started}
            return update

        node.__name__ = name
        node.__doc__ = body.__doc__
        return node

    return wrap


def usage_update(usage: Usage) -> dict[str, int]:
    return {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}


def question_language(state: AgentState) -> str:
    """The language the answer and the agent's own messages are written in: the question's
    ("zh", "en", ... see retrieval/scripts.py)."""
    return language_of(state.question.strip() or state.transcript or state.user_text)


def user_message(state: AgentState) -> Message:
    """The current question as the model gets it (attachments only if it reads them itself)."""
    native = state.turns[-1].get("native_media") if state.turns else False
    return Message(
        "user",
        state.user_text,
        image=Path(state.image) if native and state.image else None,
        audio=Path(state.audio) if native and state.audio else None,
    )


def history(state: AgentState, deps: AgentDeps) -> list[Message]:
    """Earlier exchanges of this thread (the current user turn excluded)."""
    return history_messages(state.turns[:-1], deps.settings.agent.history_turns)


def earlier_questions(state: AgentState, deps: AgentDeps) -> list[str]:
    turns = [t for t in state.turns[:-1] if t.get("role") == "user"]
    window = max(deps.settings.agent.history_turns, 1)
    return [t.get("model_text") or t.get("content", "") for t in turns[-window:]]


def earlier_answers(state: AgentState, deps: AgentDeps) -> list[str]:
    """The answer to each of `earlier_questions` ("" where a question got none)."""
    answers: list[str] = []
    for turn in state.turns[:-1]:
        if turn.get("role") == "user":
            answers.append("")
        elif answers and not answers[-1]:
            answers[-1] = turn.get("content", "")
    window = max(deps.settings.agent.history_turns, 1)
    return answers[-window:]
