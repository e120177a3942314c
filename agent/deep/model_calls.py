"""The model's part in deep mode, per dialect, always with a deterministic fallback.

- generic: the plan is a JSON list forced by a llama.cpp grammar (`plan.PLAN_GRAMMAR`); the
  reflection is a choice on likelihoods among the bridge candidates the pages name.
- megrez: its native protocol — `googleWebSearch` calls for the plan and for any search the
  notes still need ("enough" or no call = nothing missing).
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
from typing import Any

from megrez_search.agent.deps import AgentDeps
from megrez_search.agent.dialects import megrez_system_prompt
from megrez_search.agent.generation import generate
from megrez_search.agent.prompts import render

from megrez_search.errors import MegrezSearchError
from megrez_search.runtime import Message, Sampling, Usage
from megrez_search.runtime.megrez_format import STOP
from megrez_search.runtime.prefill_progress import reporting_prefill

from .plan import PLAN_GRAMMAR, parse_json_plan, parse_search_calls
from .state import DeepState

log = logging.getLogger(__name__)
PLAN_MAX_TOKENS = 80
REFLECT_MAX_TOKENS = 160
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
                stall_timeout_s=deps.settings.model_stall_timeout_s,
                cancel=deps.cancel_event(state.run_id),
                time_limit_s=left,
            )
        )
    except MegrezSearchError as exc:
        log.warning("deep mode: model call failed, using the fallback: %s", exc)
        return None


def _megrez_messages(state: DeepState, deps: AgentDeps, text: str) -> list[Message]:
    system = megrez_system_prompt(deps.clock(), search=True)
    return [Message("system", system), *state.history, Message("user", text)]


def propose_subquestions(
    state: DeepState, deps: AgentDeps, usage: Usage, deadline: float
) -> list[str]:
    """The model's sub-questions for the question (unvalidated; [] when it gave none)."""
    most = deps.settings.deep_max_subquestions
    if deps.dialect.native_function_calls:
        text = render("deep", "megrez_plan", most=most, question=state.question)
        sampling = Sampling(max_tokens=PLAN_MAX_TOKENS * 2, stop=STOP)
        messages = _megrez_messages(state, deps, text)
        return parse_search_calls(
            _call(state, deps, messages, sampling, usage, deadline, "plan") or ""
        )
    messages = [
        Message("system", render("deep", "plan_system", most=most)),
        *state.history,
        Message("user", render("deep", "plan_user", question=state.question)),
    ]
    sampling = Sampling(max_tokens=PLAN_MAX_TOKENS, grammar=PLAN_GRAMMAR)
    return parse_json_plan(_call(state, deps, messages, sampling, usage, deadline, "plan") or "")


def _notes_text(notes: Sequence[dict[str, Any]]) -> str:
    return "\n".join(f"- {n['subquestion']}: {n['text'] or '(nothing found)'}" for n in notes)


def megrez_more_queries(
    state: DeepState, deps: AgentDeps, usage: Usage, deadline: float
) -> list[str] | None:
    """Megrez's own view of what is missing: its new queries, [] for "enough", None when
    the call failed (the caller falls back to the bridge candidates)."""
    text = render("deep", "megrez_reflect", question=state.question, notes=_notes_text(state.notes))
    sampling = Sampling(max_tokens=REFLECT_MAX_TOKENS, stop=STOP)
    messages = _megrez_messages(state, deps, text)
    output = _call(state, deps, messages, sampling, usage, deadline, "reflection")
    return None if output is None else parse_search_calls(output)


def rank_candidates(
    state: DeepState, deps: AgentDeps, candidates: Sequence[str], usage: Usage, deadline: float
) -> list[str]:
    """`candidates` with the generic model's likeliest first (the rest keep their order).

    Only asked when there are more candidates than searches a round may add: otherwise
    every one is searched anyway and the model's time is saved."""
    if len(candidates) <= deps.settings.deep_followups:
        return list(candidates)
    if _time_left(deadline, "choice among the candidates") is None:
        return list(candidates)
    shown = list(candidates[:CHOICE_OPTIONS])
    options = [render("deep", "reflect_option", candidate=c) for c in shown]
    # Scoring reads the prompt once per option: only the first round's notes, kept short.
    first = [n for n in state.notes if n.get("round") == 1 and not n.get("whole")]
    notes = _notes_text(first or state.notes[:1])
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
