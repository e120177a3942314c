"""deep_research: the parent graph's node that runs the deep subgraph for this turn.

It hands the subgraph the question (as the model reads it, with the conversation so far),
forwards the subgraph's progress events to the caller as they happen, and maps the outcome
back onto the turn's state: sources, notes, queries, pages, the answer, timings, tokens.
"""

from __future__ import annotations

from typing import Any, cast

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.documents import turn_files
from agent.nodes.common import (
    earlier_answers,
    earlier_questions,
    history,
    user_message,
)
from agent.state import AgentState

from .state import DeepState

#: Subgraph steps per round (research, take_notes, reflect) plus plan and write, with room.
STEPS_PER_ROUND = 4


def deep_research(
    state: AgentState, writer: StreamWriter, *, deps: AgentDeps, research: CompiledStateGraph
) -> dict[str, Any]:
    """Plan, research in rounds, write: the whole deep subgraph for this turn."""
    start = DeepState(
        question=state.user_text,
        user=user_message(state),
        history=history(state, deps),
        earlier_questions=earlier_questions(state, deps),
        earlier_answers=earlier_answers(state, deps),
        provider=state.provider,
        web=state.search,
        files=turn_files(state),
        run_id=state.run_id,
    )
    limit = STEPS_PER_ROUND * (deps.settings.agent.deep_max_rounds + 2)
    final: dict[str, Any] = {}
    for mode, chunk in research.stream(
        start, {"recursion_limit": limit}, stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            writer(chunk)
        else:
            final = cast(dict[str, Any], chunk)
    out = DeepState(**final) if final else start
    notes = [{k: v for k, v in note.items() if k != "quotes"} for note in out.notes]
    return {
        "will_search": True,
        "decision": "deep mode: research in rounds",
        "queries": list(out.queries),
        "results": list(out.results),
        "fetched": list(out.fetched),
        "failures": list(out.failures),
        "provider_used": out.provider_used,
        "contexts": list(out.contexts),
        "answer": out.answer,
        "error": out.error,
        "stopped": out.stopped,
        "subquestions": [dict(q) for q in out.subquestions],
        "notes": notes,
        "research_round": out.round,
        "research_cut": out.cut,
        "timings": dict(out.timings),
        "tokens": dict(out.tokens) if out.tokens else {},
    }
