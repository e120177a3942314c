"""reflect: after a round, is something still missing? If so, the next round's searches.

Missing means: the first round's pages named something the question refers to ("another
module", "the built-in introduced by PEP 553") that has not been researched yet, or a
follow-up that found nothing. The new searches pair each named thing (bridge) with the
keywords of the part of the question still to answer. The dialect says how: a generic model
orders the bridge candidates by likelihood; Megrez says itself what to search (or
"enough"). Rounds and time are budgeted: a reflection that wants more than the budget allows
ends the research and records why, and the answer says so.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.events import PlanEvent, ReflectEvent
from runtime import Usage

from .bridge import followup_query, target_keywords
from .common import deadline, deep_step, remaining, stopped
from .model_calls import more_queries, rank_candidates
from .research import subquestion
from .state import DeepState


def _target(state: DeepState) -> str:
    return next((q["text"] for q in state.subquestions if q.get("target")), state.question)


def _bridges(state: DeepState) -> list[str]:
    """Names the first hop's pages gave: from the parts that state the first hop (not the
    asking part, not the whole question) when the question splits, else from the whole."""
    first = [n for n in state.notes if n.get("round") == 1]
    hops = [n for n in first if not n.get("target") and not n.get("whole")] or first[:1]
    found: list[str] = []
    for note in hops:
        for name in note.get("bridges", []):
            if name not in found:
                found.append(name)
    return found


def _followups(state: DeepState, deps: AgentDeps, usage: Usage) -> list[dict[str, Any]]:
    """The next round's new sub-questions (none: nothing is missing)."""
    searched = {q["query"].lower() for q in state.subquestions}
    this_round = [n for n in state.notes if n.get("round") == state.round]
    if state.round > 1 and any(n["text"] for n in this_round if n.get("followup")):
        return []  # a follow-up found its answer: the bridge held
    most = deps.settings.agent.deep_followups
    queries = more_queries(state, deps, usage, deadline(state.started, deps))
    if queries is not None:
        # Translating a query is one more model call: only while time is left.
        counted = usage if remaining(state, deps) > 0 else None
        items = [subquestion(q, state, deps, state.round + 1, counted) for q in queries]
        return [i | {"followup": True} for i in items if i["query"].lower() not in searched][:most]
    bridges = deps.dialect.order_bridges(
        _bridges(state),
        lambda found: rank_candidates(state, deps, found, usage, deadline(state.started, deps)),
    )
    target = _target(state)
    keywords = target_keywords(target, state.question)
    items = []
    for name in bridges:
        query = followup_query(name, keywords, deps.settings.agent.max_query_words)
        if query.lower() in searched:
            continue
        item = subquestion(f"{name}: {target}", state, deps, state.round + 1)
        item.update(query=query, followup=True)
        items.append(item)
        searched.add(query.lower())
        if len(items) == most:
            break
    return items


@deep_step("reflect", "Checking what is still missing")
def reflect(state: DeepState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Another round with new searches, or done (possibly cut short by a budget)."""
    if stopped(state, deps):
        writer(
            ReflectEvent(round=state.round, done=True, reason="stopped by the user", cut="stopped")
        )
        return {"more": False, "cut": "stopped"}
    # The budget decides whether another round may start: checked when this one ended. The
    # reflection's own model call is not made once it is spent (model_calls).
    out_of_time = remaining(state, deps) <= 0
    usage = Usage()
    followups = _followups(state, deps, usage)
    tokens = {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}
    queries = [item["query"] for item in followups]
    if not followups:
        writer(ReflectEvent(round=state.round, done=True, reason="nothing left to look up"))
        return {"more": False, "tokens": tokens}
    cut = None
    if state.round >= deps.settings.agent.deep_max_rounds:
        cut, reason = "rounds", f"round limit ({deps.settings.agent.deep_max_rounds}) reached"
    elif out_of_time:
        cut, reason = "time", f"time budget ({deps.settings.agent.deep_time_budget_s:g} s) spent"
    if cut:
        writer(ReflectEvent(round=state.round, done=True, reason=reason, queries=queries, cut=cut))
        return {"more": False, "cut": cut, "open_queries": queries, "tokens": tokens}
    reason = "the first findings point to " + ", ".join(queries)
    writer(ReflectEvent(round=state.round, done=False, reason=reason, queries=queries))
    writer(
        PlanEvent(
            round=state.round + 1, subquestions=[i["text"] for i in followups], by="reflection"
        )
    )
    return {
        "more": True,
        "round": state.round + 1,
        "subquestions": [*state.subquestions, *followups],
        "tokens": tokens,
    }
