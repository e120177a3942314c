"""answer -> check_citations -> finish: write the answer, verify its citations, record it.

The answer streams token by token (citations normalised to `[N]` on the fly). When search
was chosen but nothing useful came back, the answer says so plainly first and never cites.
A model failure part-way keeps what was written, says what went wrong, and the turn is
still recorded in the conversation.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from langgraph.types import StreamWriter
from megrez_search.agent.citations import (
    CitationStreamNormalizer,
    normalize_citations,
    strip_citations,
)
from megrez_search.agent.citations import check_citations as citation_report
from megrez_search.agent.deps import AgentDeps
from megrez_search.agent.dialect import sampling_for
from megrez_search.agent.events import AnswerEvent, ErrorEvent, TokenEvent
from megrez_search.agent.generation import generate
from megrez_search.agent.prompts import render, template
from megrez_search.agent.state import AgentState, Turn

from megrez_search.errors import MegrezSearchError
from megrez_search.runtime import Message, Usage

from .common import history, step, usage_update, user_message

log = logging.getLogger(__name__)


def _messages(state: AgentState, deps: AgentDeps) -> list[Message]:
    now, past, user = deps.clock(), history(state, deps), user_message(state)
    if state.contexts:
        return deps.dialect.answer_messages(now, past, user, state.queries[-1], state.contexts)
    return deps.dialect.chat_messages(now, past, user)


def no_results_notice(state: AgentState) -> str:
    query = state.queries[-1] if state.queries else state.user_text
    if not state.results:
        reason = f" ({state.failures[0]})" if state.failures else ""
    elif not any(item.get("ok") for item in state.fetched):
        reason = " (none of the result pages could be read)"
    else:
        reason = " (the pages found did not match the question)"
    return render("common", "no_results", query=query, reason=reason)


def _label(state: AgentState) -> str | None:
    return None if state.error else "Writing the answer"


@step("answer", _label)
def answer(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Stream the model's answer from the numbered contexts (or without search)."""
    settings = deps.settings
    prefix = ""
    if state.will_search and not state.contexts:
        prefix = f"{no_results_notice(state)}\n\n{template('common', 'unsourced')} "
        writer(TokenEvent(text=prefix))
    sampling = sampling_for(
        settings,
        settings.answer_max_tokens if state.contexts else settings.chat_max_tokens,
        deps.dialect.answer_stop,
    )
    usage = Usage()
    citations = CitationStreamNormalizer()
    written: list[str] = []
    cancel = deps.cancel_event(state.run_id)
    try:
        for chunk in generate(
            deps.runtime,
            _messages(state, deps),
            sampling,
            usage,
            stall_timeout_s=settings.model_stall_timeout_s,
            cancel=cancel,
        ):
            written.append(chunk)
            text = citations.feed(chunk)
            if text:
                writer(TokenEvent(text=text))
        tail = citations.flush()
        if tail:
            writer(TokenEvent(text=tail))
    except MegrezSearchError as exc:
        partial = normalize_citations("".join(written)).strip()
        writer(ErrorEvent(message=str(exc), step="answer", fatal=True))
        return {"answer": prefix + partial, "error": str(exc), "tokens": usage_update(usage)}
    text = normalize_citations("".join(written)).strip()
    return {"answer": prefix + text, "stopped": cancel.is_set(), "tokens": usage_update(usage)}


@step("check_citations", lambda state: "Checking citations" if state.contexts else None)
def check_citations(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Repair citations against the contexts; without contexts no citation may stand."""
    if not state.contexts:
        final = strip_citations(normalize_citations(state.answer))
        writer(AnswerEvent(answer=final, citations=[]))
        return {"answer": final, "citations": []}
    report = citation_report(
        state.answer, [c["text"] for c in state.contexts], deps.settings.citation_support
    )
    if report.repairs:
        log.info("citations repaired: %d of %d checks", report.repairs, len(report.checks))
    writer(AnswerEvent(answer=report.answer, citations=report.citations))
    return {
        "answer": report.answer,
        "citations": report.citations,
        "citation_checks": [asdict(check) for check in report.checks],
        "citation_precision": report.precision,
    }


@step("finish")
def finish(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Append the assistant's turn to the conversation (also after a failure)."""
    content = state.answer
    if state.error:
        failure = render("common", "model_failed", error=state.error)
        content = f"{content}\n\n{failure}".strip() if content else failure
    cited = set(state.citations)
    turn: Turn = {
        "role": "assistant",
        "content": content,
        "searched": state.will_search,
        "queries": list(state.queries),
        "sources": [{"n": c["n"], "url": c["url"], "title": c["title"]} for c in state.contexts],
        "citations": sorted(cited),
        "error": state.error,
        "at": deps.clock().isoformat(timespec="seconds"),
    }
    return {"turns": [turn]}
