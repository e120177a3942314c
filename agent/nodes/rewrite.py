"""rewrite: the standalone search query for this turn (see agent/query_writer.py)."""

from __future__ import annotations

from typing import Any

from langgraph.types import StreamWriter
from megrez_search.agent.deps import AgentDeps
from megrez_search.agent.events import QueryEvent
from megrez_search.agent.query_writer import build_query
from megrez_search.agent.state import AgentState

from .common import earlier_questions, step


@step("rewrite")
def rewrite(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Megrez: its own call argument, checked. Generic: the question's keywords."""
    query = build_query(
        state.user_text,
        state.call_query,  # None for the generic dialect
        earlier_questions(state, deps),
        deps.settings.max_query_words,
    )
    writer(QueryEvent(query=query))
    return {"queries": [query]}
