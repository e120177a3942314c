"""The two ways a model decides whether to search, one per kind of dialect (the dialect
object in agent/dialect.py picks its own; nodes/decide.py only asks it).

- By its own search call: the model sees the `googleWebSearch` schema and either calls it
  (its own query) or answers at once; that direct answer streams to the user as it is
  written. Invalid JSON in the call means no call (the protocol's rule).
- By likelihoods: the rules of `agent.intent` decide the kinds of message they recognise
  (small talk, arithmetic, translation, creative writing: no search; time-sensitive: search).
  Anything else is a constrained choice: the runtime scores two reply openings ("search"
  vs "answer directly") on the model's likelihoods; the margin is calibrated against the
  same choice for a content-free message (contextual calibration: a small model's bias
  towards one opening cancels out), then `settings.agent.decide_bias` is added. Positive = search.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from langgraph.types import StreamWriter

from agent.citation_marks import CitationStreamNormalizer
from agent.events import DecisionEvent, ErrorEvent, TokenEvent
from agent.generation import generate
from agent.intent import decision_prior
from core.errors import MegrezSearchError
from core.settings import Settings
from runtime import Message, Runtime, Sampling, Usage
from runtime.megrez_format import FUNCTION_START

log = logging.getLogger(__name__)
T = TypeVar("T")


class ModelDeps(Protocol):
    """What a decision needs of the agent's dependencies (`AgentDeps` is one)."""

    @property
    def runtime(self) -> Runtime: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def cancel_event(
        self, run_id: str, event: threading.Event | None = None
    ) -> threading.Event: ...

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T: ...


def _tokens(usage: Usage) -> dict[str, int]:
    return {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}


# --- by the model's own search call ----------------------------------------------------------


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


def by_search_call(
    messages: Sequence[Message],
    sampling: Sampling,
    search_query: Callable[[str], str | None],
    writer: StreamWriter,
    deps: ModelDeps,
    run_id: str,
) -> dict[str, Any]:
    """The model answers directly (streamed) or calls the search; `search_query` reads the
    call's query (None: not a valid call)."""
    usage = Usage()
    calls = _CallFilter()
    citations = CitationStreamNormalizer()
    try:
        for chunk in generate(
            deps.runtime,
            messages,
            sampling,
            usage,
            stall_timeout_s=deps.settings.runtime.model_stall_timeout_s,
            cancel=deps.cancel_event(run_id),
        ):
            text = citations.feed(calls.feed(chunk))
            if text:
                writer(TokenEvent(text=text))
        tail = citations.feed(calls.flush()) + citations.flush()
        if tail:
            writer(TokenEvent(text=tail))
    except MegrezSearchError as exc:
        writer(ErrorEvent(message=str(exc), step="decide", fatal=True))
        return {"error": str(exc), "answer": calls.text, "tokens": _tokens(usage)}

    query = search_query(calls.text) if calls.calling else None
    if query is not None:
        reason = "the model called googleWebSearch"
        writer(DecisionEvent(search=True, reason=reason))
        return {
            "will_search": True,
            "decision": reason,
            "call_query": query,
            "tokens": _tokens(usage),
        }
    if calls.calling:
        # Invalid call = no call: answer without search in the answer node.
        reason = "the model's function call was not valid, answering without search"
        log.info("%s: %r", reason, calls.text[:200])
        writer(DecisionEvent(search=False, reason=reason))
        return {"will_search": False, "decision": reason, "tokens": _tokens(usage)}
    reason = "the model answered without searching"
    writer(DecisionEvent(search=False, reason=reason))
    return {
        "will_search": False,
        "decision": reason,
        "answer": calls.text.strip(),
        "answered_in_decide": True,
        "tokens": _tokens(usage),
    }


# --- by likelihoods --------------------------------------------------------------------------


def by_likelihoods(
    user_text: str,
    messages_for: Callable[[str], list[Message]],
    options: tuple[str, str],
    null_text: str,
    writer: StreamWriter,
    deps: ModelDeps,
) -> dict[str, Any]:
    """A rule for the kinds it knows, else the calibrated margin of `options` (search,
    answer) for the conversation `messages_for(text)`."""
    prior = decision_prior(user_text)
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

    def margin_of(text: str) -> float:
        choice = deps.runtime.choose(messages_for(text), list(options), usage)
        return choice.scores[options[0]] - choice.scores[options[1]]

    try:
        margin = margin_of(user_text)
        # Less the content-free message's margin, computed once per process.
        margin -= deps.memo(("decide-null", options), lambda: margin_of(null_text))
        score = margin + deps.settings.agent.decide_bias
        reason = f"model margin {margin:+.2f}"
    except MegrezSearchError as exc:
        # The documented fallback: without the model's opinion, search (the user turned
        # search on, and no rule says the message needs none).
        log.warning("decision scoring failed, searching: %s", exc)
        score = deps.settings.agent.decide_bias or 1.0
        reason = f"model scoring failed ({exc}), searching"
    search = score > 0
    log.info("decide: search=%s (%s)", search, reason)
    writer(DecisionEvent(search=search, reason=reason))
    return {"will_search": search, "decision": reason, "tokens": _tokens(usage)}
