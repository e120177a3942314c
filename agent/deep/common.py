"""What the deep nodes share: the step wrapper, the budget clock and stop checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.events import StepEvent

from .state import DeepState

DeepBody = Callable[[DeepState, StreamWriter, AgentDeps], dict[str, Any]]
Label = str | Callable[[DeepState], str | None] | None


def deep_step(
    name: str, label: Label = None
) -> Callable[[DeepBody], Callable[..., dict[str, Any]]]:
    """Make `body(state, writer, deps)` a subgraph node: a `StepEvent`, timed as `deep_<name>`."""

    def wrap(body: DeepBody) -> Callable[..., dict[str, Any]]:
        def node(state: DeepState, writer: StreamWriter, *, deps: AgentDeps) -> dict[str, Any]:
            text = label(state) if callable(label) else label
            if text:
                writer(StepEvent(step=f"deep_{name}", label=text))
            started = time.perf_counter()
            update = body(state, writer, deps)
            update["timings"] = {f"deep_{name}": time.perf_counter() - started}
            return update

        node.__name__ = name
        node.__doc__ = body.__doc__
        return node

    return wrap


def deadline(started: float, deps: AgentDeps) -> float:
    """The `time.monotonic()` at which research that began at `started` has spent its budget."""
    return started + deps.settings.agent.deep_time_budget_s


def remaining(state: DeepState, deps: AgentDeps) -> float:
    """Seconds of the research time budget left (never below zero)."""
    return max(0.0, deadline(state.started, deps) - time.monotonic())


def stopped(state: DeepState, deps: AgentDeps) -> bool:
    return deps.cancel_event(state.run_id).is_set()
