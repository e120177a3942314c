"""decide: search or answer directly.

- Files in the conversation (its own or attached collections'): with search off, or for a
  question about them ("the attached file", "this document"), search the files alone.
- Search off: never search.
- Megrez dialect: the model sees the `googleWebSearch` schema and either calls it (its own
  query) or answers at once; that direct answer streams to the user as it is written.
  Invalid JSON in the call means no call (the protocol's rule).
- Generic dialect: the rules of `agent.intent` decide the kinds of message they recognise
  (small talk, arithmetic, translation, creative writing: no search; time-sensitive: search).
  Anything else is a constrained choice: the runtime scores two reply openings ("search"
  vs "answer directly", prompts/generic.toml) on the model's likelihoods; the margin is
  calibrated against the same choice for a content-free message (contextual calibration:
  a small model's bias towards one opening cancels out), then `settings.decide_bias` is
  added. Positive = search.
"""

from __future__ import annotations

import logging
from typing import Any

from langgraph.types import StreamWriter
from megrez_search.agent.citations import CitationStreamNormalizer
from megrez_search.agent.deps import AgentDeps
from megrez_search.agent.dialect import MegrezDialect, sampling_for
from megrez_search.agent.dialects import generic_decide_messages, generic_decide_options
from megrez_search.agent.documents import refers_to_files
from megrez_search.agent.events import DecisionEvent, ErrorEvent, TokenEvent
from megrez_search.agent.generation import generate
from megrez_search.agent.intent import decision_prior
from megrez_search.agent.prompts import template
from megrez_search.agent.state import AgentState

from megrez_search.errors import MegrezSearchError
from megrez_search.runtime import Usage
from megrez_search.runtime.megrez_format import FUNCTION_END, FUNCTION_START

from .common import history, step, usage_update, user_message

log = logging.getLogger(__name__)


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
    if isinstance(deps.dialect, MegrezDialect):
        return _megrez_decide(state, writer, deps, deps.dialect)
    return _generic_decide(state, writer, deps)


# --- megrez ------------------------------------------------------------------------------


class _CallFilter:
    """Passes a direct answer through as it streams; holds back a function call."""

    def __init__(self) -> None:
        self.text = ""
        self._emitted = 0
        self.calling = False

    def feed(self, chunk: str) -> str:
        self.text += chunk
        if self.calling:
            return ""
        start = self.text.find(FUNCTION_START)
        if start >= 0:
            self.calling = True
            return ""
        # Hold back a tail that could still become `<|function_start|>`.
        safe = len(self.text)
        for size in range(min(len(FUNCTION_START) - 1, len(self.text)), 0, -1):
            if FUNCTION_START.startswith(self.text[-size:]):
                safe = len(self.text) - size
                break
        if not self.text[:safe].strip():
            return ""  # leading whitespace: a call may still follow
        out = self.text[self._emitted : safe]
        self._emitted = safe
        return out

    def flush(self) -> str:
        if self.calling:
            return ""
        out = self.text[self._emitted :]
        self._emitted = len(self.text)
        return out


def _megrez_decide(
    state: AgentState, writer: StreamWriter, deps: AgentDeps, dialect: MegrezDialect
) -> dict[str, Any]:
    settings = deps.settings
    messages = dialect.decide_messages(deps.clock(), history(state, deps), user_message(state))
    sampling = sampling_for(settings, settings.chat_max_tokens, (FUNCTION_END,))
    usage = Usage()
    calls = _CallFilter()
    citations = CitationStreamNormalizer()
    try:
        for chunk in generate(
            deps.runtime,
            messages,
            sampling,
            usage,
            stall_timeout_s=settings.model_stall_timeout_s,
            cancel=deps.cancel_event(state.run_id),
        ):
            text = citations.feed(calls.feed(chunk))
            if text:
                writer(TokenEvent(text=text))
        tail = citations.feed(calls.flush()) + citations.flush()
        if tail:
            writer(TokenEvent(text=tail))
    except MegrezSearchError as exc:
        writer(ErrorEvent(message=str(exc), step="decide", fatal=True))
        return {"error": str(exc), "answer": calls.text, "tokens": usage_update(usage)}

    query = dialect.search_query(calls.text) if calls.calling else None
    if query is not None:
        reason = "the model called googleWebSearch"
        writer(DecisionEvent(search=True, reason=reason))
        return {
            "will_search": True,
            "decision": reason,
            "call_query": query,
            "tokens": usage_update(usage),
        }
    if calls.calling:
        # Invalid call = no call: answer without search in the answer node.
        reason = "the model's function call was not valid, answering without search"
        log.info("%s: %r", reason, calls.text[:200])
        writer(DecisionEvent(search=False, reason=reason))
        return {"will_search": False, "decision": reason, "tokens": usage_update(usage)}
    reason = "the model answered without searching"
    writer(DecisionEvent(search=False, reason=reason))
    return {
        "will_search": False,
        "decision": reason,
        "answer": calls.text.strip(),
        "answered_in_decide": True,
        "tokens": usage_update(usage),
    }


# --- generic -----------------------------------------------------------------------------


def _null_margin(deps: AgentDeps, options: tuple[str, str], usage: Usage) -> float:
    """The search-vs-answer margin for a content-free message, computed once per process."""

    def compute() -> float:
        choice = deps.runtime.choose(
            generic_decide_messages(template("generic", "decide_null")), list(options), usage
        )
        return choice.scores[options[0]] - choice.scores[options[1]]

    return deps.memo(("decide-null", options), compute)


def _generic_decide(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    options = generic_decide_options()
    prior = decision_prior(state.user_text)
    usage = Usage()
    if prior.kind != "none":
        # A recognised kind decides alone: the 1.5B model's margin favours "search" by +6 to
        # +16 for nearly every message, greetings and haiku requests included, so it could
        # only add noise here, and skipping it saves a model call.
        search = prior.value > 0
        reason = f"{prior.kind} message, {'search' if search else 'no search'} by rule"
        log.info("decide: search=%s (%s)", search, reason)
        writer(DecisionEvent(search=search, reason=reason))
        return {"will_search": search, "decision": reason}
    try:
        choice = deps.runtime.choose(generic_decide_messages(state.user_text), list(options), usage)
        margin = choice.scores[options[0]] - choice.scores[options[1]]
        margin -= _null_margin(deps, options, usage)
        score = margin + deps.settings.decide_bias
        reason = f"model margin {margin:+.2f}"
    except MegrezSearchError as exc:
        # The documented fallback: without the model's opinion, search (the user turned
        # search on, and no rule says the message needs none).
        log.warning("decision scoring failed, searching: %s", exc)
        score = deps.settings.decide_bias or 1.0
        reason = f"model scoring failed ({exc}), searching"
    search = score > 0
    log.info("decide: search=%s (%s)", search, reason)
    writer(DecisionEvent(search=search, reason=reason))
    return {"will_search": search, "decision": reason, "tokens": usage_update(usage)}
