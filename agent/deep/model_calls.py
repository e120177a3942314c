"""The model's part in deep mode, always with a deterministic fallback.

What is asked and how the reply is read is the dialect's (agent/dialect.py: a generic model's
plan is a JSON list forced by a grammar and its reflection a choice on likelihoods among the
bridge candidates; Megrez writes `googleWebSearch` calls for both).
Every function returns what the model contributed (possibly nothing) and never raises for a
model failure: the caller falls back to the deterministic plan or candidates.

Every call is inside the research time budget (`deadline`, a `time.monotonic()`): none
starts once it is spent, and one that starts is given up when it is (a generation ends where
it is, a llama.cpp choice at its next prompt piece), so the answer is written on time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from agent.deps import AgentDeps
from agent.dialect import ModelAsk, notes_text
from agent.generation import generate
from agent.prompts import render
from core.errors import MegrezSearchError
from runtime import Message, Sampling, Usage
from runtime.prefill_progress import reporting_prefill

from .state import DeepState

log = logging.getLogger(__name__)
#: Bridge candidates the generic model chooses among.
CHOICE_OPTIONS = 4


class BudgetSpent(Exception):
    """Raised inside a backend's prompt evaluation once the research time budget is spent."""


def _time_left(deadline: float, what: str) -> float | None:
    left = deadline - time.monotonic()
    if left <= 0:
        log.info("deep mode: the time budget is spent, the %s is not asked of the model", what)
        return None
    return left


def _until(deadline: float) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        if time.monotonic() >= deadline:
            raise BudgetSpent

    return report


def _call(
    state: DeepState,
    deps: AgentDeps,
    messages: list[Message],
    sampling: Sampling,
    usage: Usage,
    deadline: float,
    what: str,
) -> str | None:
    left = _time_left(deadline, what)
    if left is None:
        return None
    try:
        return "".join(
            generate(
                deps.runtime,
                messages,
                sampling,
                usage,
                stall_timeout_s=deps.settings.runtime.model_stall_timeout_s,
                cancel=deps.cancel_event(state.run_id),
                time_limit_s=left,
            )
        )
    except MegrezSearchError as exc:
        log.warning("deep mode: model call failed, using the fallback: %s", exc)
        return None


def _ask(
    state: DeepState,
    deps: AgentDeps,
    ask: ModelAsk,
    usage: Usage,
    deadline: float,
    what: str,
) -> list[str] | None:
    """What the model's reply to `ask` says (None when the call failed or never started)."""
    output = _call(state, deps, ask.messages, ask.sampling, usage, deadline, what)
    return None if output is None else ask.parse(output)


def propose_subquestions(
    state: DeepState, deps: AgentDeps, usage: Usage, deadline: float
) -> list[str]:
    """The model's sub-questions for the question (unvalidated; [] when it gave none)."""
    most = deps.settings.agent.deep_max_subquestions
    ask = deps.dialect.plan_ask(deps.clock(), state.history, state.question, most)
    return _ask(state, deps, ask, usage, deadline, "plan") or []


def more_queries(
    state: DeepState, deps: AgentDeps, usage: Usage, deadline: float
) -> list[str] | None:
    """The model's own view of what is missing: its new queries, [] for "enough", None when
    it has no view of its own or the call failed (the caller searches the bridges)."""
    ask = deps.dialect.reflect_ask(deps.clock(), state.history, state.question, state.notes)
    return None if ask is None else _ask(state, deps, ask, usage, deadline, "reflection")


def rank_candidates(
    state: DeepState, deps: AgentDeps, candidates: Sequence[str], usage: Usage, deadline: float
) -> list[str]:
    """`candidates` with the generic model's likeliest first (the rest keep their order).

    Only asked when there are more candidates than searches a round may add: otherwise
    every one is searched anyway and the model's time is saved."""
    if len(candidates) <= deps.settings.agent.deep_followups:
        return list(candidates)
    if _time_left(deadline, "choice among the candidates") is None:
        return list(candidates)
    shown = list(candidates[:CHOICE_OPTIONS])
    options = [render("deep", "reflect_option", candidate=c) for c in shown]
    # Scoring reads the prompt once per option: only the first round's notes, kept short.
    first = [n for n in state.notes if n.get("round") == 1 and not n.get("whole")]
    notes = notes_text(first or state.notes[:1])
    messages = [
        Message("system", render("deep", "reflect_system")),
        Message("user", render("deep", "reflect_user", question=state.question, notes=notes)),
    ]
    try:
        with reporting_prefill(_until(deadline)):
            choice = deps.runtime.choose(messages, options, usage)
    except MegrezSearchError as exc:
        log.warning("deep mode: candidate choice failed, keeping the pages' order: %s", exc)
        return list(candidates)
    picked = shown[options.index(choice.option)] if choice.option in options else shown[0]
    return [picked, *[c for c in candidates if c != picked]]
