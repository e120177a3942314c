"""decide: search or answer directly.

Files in the conversation (its own or attached collections'): with search off, or for a
question about them ("the attached file", "this document"), the files alone are searched.
Search off: never search. Search on: the dialect decides in its own way (agent/dialect.py,
agent/decisions.py): Megrez by calling `googleWebSearch` itself or answering at once (that
answer streams to the user as it is written); a generic model by rules for the kinds of
message they recognise, else by a calibrated choice on its likelihoods.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.documents import refers_to_files
from agent.events import DecisionEvent
from agent.state import AgentState

from .common import history, step, user_message


def _label(state: AgentState) -> str | None:
    return "Deciding whether to search" if state.search and not state.error else None


@step("decide", _label)
def decide(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Search or not; Megrez may answer right here."""
    if state.error:
        return {}
    if state.files and (not state.search or refers_to_files(state.user_text)):
        # The files given to the conversation are searched whatever the model would do.
        reason = (
            "web search is off: searching the files"
            if not state.search
            else "the question is about the files: searching them"
        )
        writer(DecisionEvent(search=True, reason=reason))
        return {"will_search": True, "decision": reason, "search_web": False}
    if not state.search:
        writer(DecisionEvent(search=False, reason="web search is off"))
        return {"will_search": False, "decision": "web search is off"}
    return deps.dialect.decide(state, history(state, deps), user_message(state), writer, deps)
