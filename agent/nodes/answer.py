"""answer -> check_citations -> finish: write the answer, verify its citations, record it.

The answer streams token by token (citations normalised to `[N]` on the fly). When search
was chosen but nothing useful came back, the answer says so plainly first and never cites.
A model failure part-way keeps what was written, says what went wrong, and the turn is
still recorded in the conversation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from langgraph.types import StreamWriter

from agent.citation_marks import cited_numbers, normalize_citations, strip_citations
from agent.citations import check_citations as citation_report
from agent.deps import AgentDeps
from agent.dialect import sampling_for
from agent.events import AnswerEvent, ErrorEvent, PrefillEvent, TokenEvent
from agent.generation import stream_tokens
from agent.grounding import ground
from agent.prompts import message, template
from agent.repetition import LoopGuard
from agent.state import AgentState, Context, Turn, source_of
from agent.support import as_read
from agent.translation import asked_words
from core.errors import MegrezSearchError
from runtime import Message, Usage

from .common import history, question_language, step, usage_update, user_message

log = logging.getLogger(__name__)


def answer_prompt(
    state: AgentState, deps: AgentDeps, now: datetime, contexts: Sequence[Context]
) -> list[Message]:
    """The answer's messages from `contexts` (none: an answer without sources)."""
    past, user = history(state, deps), user_message(state)
    language = question_language(state)
    if language != "en":
        # Over English sources (or a system prompt in English) a small model answers in
        # English: the question's own language is asked for after it, in that language.
        note = message("answer_language", language)
        user = replace(user, content=f"{user.content}\n\n{note}")
    if contexts:
        return deps.dialect.answer_messages(now, past, user, state.queries[-1], contexts)
    return deps.dialect.chat_messages(now, past, user)


def no_results_notice(state: AgentState) -> str:
    """What failed, in one sentence: the search itself, reading the pages, or matching them."""
    query = state.queries[-1] if state.queries else state.user_text
    language = question_language(state)
    if not state.results:
        reason = (
            message("reason_failed", language, failure=state.failures[0])
            if state.failures
            else message("reason_empty", language)
        )
    elif not any(item.get("ok") for item in state.fetched):
        reason = message("reason_unreadable", language)
    else:
        reason = message("reason_unrelated", language)
    return message("no_results", language, query=query, reason=reason)


def memory_fallback(state: AgentState, deps: AgentDeps) -> bool:
    if state.memory_fallback is not None:
        return state.memory_fallback
    return deps.settings.agent.memory_fallback


def _label(state: AgentState) -> str | None:
    return None if state.error else "Writing the answer"


@step("answer", _label)
def answer(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Stream the model's answer from the numbered contexts (or without search)."""
    settings = deps.settings
    prefix = ""
    if state.will_search and not state.contexts:
        # A search was needed and gave nothing to read: say what failed and never answer
        # from memory unless the user allowed it, and then labelled as unsourced.
        notice = no_results_notice(state)
        language = question_language(state)
        if not memory_fallback(state, deps):
            text = f"{notice} {message('no_results_help', language)}"
            writer(TokenEvent(text=text))
            return {"answer": text}
        prefix = f"{notice}\n\n{message('unsourced', language)} "
        writer(TokenEvent(text=prefix))
    sampling = sampling_for(
        settings,
        settings.agent.answer_max_tokens if state.contexts else settings.agent.chat_max_tokens,
        deps.dialect.answer_stop,
    )
    usage = Usage()
    guard = LoopGuard()
    cancel = deps.cancel_event(state.run_id)

    def keep(chunk: str) -> bool:
        guard.feed(chunk)
        if guard.looped:  # the answer is kept up to the loop
            log.info("repetition loop cut after %d characters", guard.cut)
        return not guard.looped

    # The part of the prompt before the passages may have been read while the search ran:
    # wait for that reading (it holds the model) and write the prompt with its time.
    read_at = deps.read_aheads.finish(state.run_id, settings.runtime.model_stall_timeout_s)
    messages = answer_prompt(state, deps, read_at or deps.clock(), state.contexts)
    try:
        stream_tokens(
            deps.runtime,
            messages,
            sampling,
            usage,
            writer,
            stall_timeout_s=settings.runtime.model_stall_timeout_s,
            cancel=cancel,
            keep=keep,
            on_prefill=lambda done, total: writer(PrefillEvent(done=done, total=total)),
        )
    except MegrezSearchError as exc:
        partial = normalize_citations(guard.answer()).strip()
        writer(ErrorEvent(message=str(exc), step="answer", fatal=True))
        return {"answer": prefix + partial, "error": str(exc), "tokens": usage_update(usage)}
    text = normalize_citations(guard.answer()).strip()
    return {
        "answer": prefix + text,
        "stopped": cancel.is_set(),
        "loop_cut": guard.looped,
        "tokens": usage_update(usage),
    }


@step("check_citations", lambda state: "Checking citations" if state.contexts else None)
def check_citations(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Repair citations against the contexts; without contexts no citation may stand."""
    if not state.contexts:
        final = strip_citations(normalize_citations(state.answer))
        writer(AnswerEvent(answer=final, citations=[]))
        return {"answer": final, "citations": []}
    texts = [as_read(c["title"], c["text"]) for c in state.contexts]
    given = asked_words(state.question, state.queries)
    report = citation_report(state.answer, texts, deps.settings.agent.citation_support, given=given)
    if report.repairs:
        log.info("citations repaired: %d of %d checks", report.repairs, len(report.checks))
    grounded = ground(
        report.answer,
        texts,
        [c["title"] for c in state.contexts],
        # Deep answers are built from verbatim quotes of the notes, each with its number;
        # the citation check above is their check (the lexical one misreads their sections).
        mode="off" if state.deep else deps.settings.agent.grounding,
        threshold=deps.settings.agent.citation_support,
        given=given,
    )
    if grounded.unsupported:
        log.info(
            "%d unsupported sentence(s) %s",
            len(grounded.unsupported),
            deps.settings.agent.grounding,
        )
    if grounded.pointers:
        log.info("dropped %d sentence(s) that only point at the sources", len(grounded.pointers))
    # "The sources don't say" lists the sources to read; its numbers back no claim.
    citations = [] if grounded.nothing_supported else sorted(set(cited_numbers(grounded.answer)))
    final = in_question_language(grounded.answer, grounded.nothing_supported, state)
    writer(AnswerEvent(answer=final, citations=citations))
    return {
        "answer": final,
        "unsupported": grounded.unsupported,
        "citations": citations,
        "citation_checks": [asdict(check) for check in report.checks],
        "citation_precision": report.precision,
    }


def in_question_language(answer: str, nothing_supported: bool, state: AgentState) -> str:
    """Grounding's own words in `answer` ("the sources don't say", the unsupported mark) in
    the question's language."""
    language = question_language(state)
    if language == "en":
        return answer
    if nothing_supported:
        listing = "\n".join(f"[{c['n']}] {c['title']}" for c in state.contexts)
        return message("sources_dont_say", language, sources=listing)
    mark = template("common", "unsupported_mark")
    return answer.replace(mark, message("unsupported_mark", language))


@step("finish")
def finish(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Append the assistant's turn to the conversation (also after a failure)."""
    content = state.answer
    if state.error:
        failure = message("model_failed", question_language(state), error=state.error)
        content = f"{content}\n\n{failure}".strip() if content else failure
    cited = set(state.citations)
    turn: Turn = {
        "role": "assistant",
        "content": content,
        "searched": state.will_search,
        "queries": list(state.queries),
        "sources": [source_of(c) for c in state.contexts],
        "citations": sorted(cited),
        "error": state.error,
        "at": deps.clock().isoformat(timespec="seconds"),
        "seconds": round(time.time() - state.started_at, 2) if state.started_at else None,
        "pages_read": sum(1 for page in state.fetched if page.get("ok")),
        "stopped": state.stopped,
        "model": model_name(deps),
    }
    return {"turns": [turn]}


def model_name(deps: AgentDeps) -> str:
    """The name of the model answering (a remote one's may need its server: then the
    setting that chose it)."""
    try:
        return str(deps.runtime.model.name)
    except Exception:  # noqa: BLE001 - any failure to ask a remote server
        return deps.settings.runtime.model
