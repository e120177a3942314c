"""rewrite: the standalone search query for this turn (see agent/query_writer.py)."""

from __future__ import annotations

from typing import Any

from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.docs_query import docs_query
from agent.events import QueryEvent
from agent.query_writer import build_query
from agent.state import AgentState
from agent.translation import translate_query
from retrieval.scripts import needs_translation
from runtime import Usage

from .common import earlier_answers, earlier_questions, step, usage_update


def search_text(state: AgentState) -> str:
    """What the user asked, in their words plus what the attachments say: the question,
    a voice question's transcript and the text read from an image, without the perception
    note's own framing ("Attached image: PNG 900x160 …"), which is no topic to search for."""
    if state.image_text is None and state.transcript is None:
        return state.user_text
    parts = [state.question, state.transcript or "", state.image_text or ""]
    return " ".join(part.strip() for part in parts if part.strip()) or state.user_text


@step("rewrite")
def rewrite(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Megrez: its own call argument, checked. Generic: the question's keywords, and with
    `MEGREZ_DOCS_QUERY` the model's query in the documentation's terms besides. A question
    in another script than the sources' gets keywords in their language (the model's
    translation); its own words are searched too (see nodes/retrieve.py)."""
    text = search_text(state)
    proposed = state.call_query  # None for the generic dialect
    usage = Usage()
    earlier = earlier_questions(state, deps)
    answers = earlier_answers(state, deps)
    if proposed is None or needs_translation(proposed):
        proposed = translate_query(text, deps, usage, state.run_id, earlier, answers) or proposed
    query = build_query(text, proposed, earlier, deps.settings.agent.max_query_words, answers)
    terms = None
    if proposed is None and deps.settings.agent.docs_query:
        terms = docs_query(text, deps, usage, state.run_id, earlier, answers)
    writer(QueryEvent(query=query))
    return {"queries": [query], "docs_query": terms, "tokens": usage_update(usage)}
