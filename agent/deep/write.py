"""write: the research as an answer — a short direct answer, then one section per
sub-question (its cited note), all citing one numbered source list; the parent graph's
citation checker then checks it like any answer.

The direct answer is the model's, written from the notes only (a short prompt, so a small
model reads the facts rather than whole pages). After Stop nothing more is generated: the
answer is the notes found so far. A budget that cut the research short is stated last.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from langgraph.types import StreamWriter

from agent.citation_marks import normalize_citations
from agent.deps import AgentDeps
from agent.dialect import sampling_for
from agent.events import ErrorEvent, TokenEvent
from agent.generation import stream_tokens
from agent.prompts import message, render, template
from core.errors import MegrezSearchError
from retrieval.scripts import language_of
from runtime import Message, Usage

from .common import deep_step
from .notes import note_contexts
from .state import DeepState

log = logging.getLogger(__name__)


def _messages(state: DeepState, deps: AgentDeps) -> list[Message]:
    now = deps.clock()
    user = state.user or Message("user", state.question)
    language = language_of(state.question)
    if language != "en":  # as in nodes/answer.py: over English notes a small model answers
        user = replace(user, content=f"{user.content}\n\n{message('answer_language', language)}")
    contexts = note_contexts(state.notes, state.contexts)
    if contexts:
        keywords = "; ".join(dict.fromkeys(state.queries))
        return deps.dialect.answer_messages(now, state.history, user, keywords, contexts)
    return deps.dialect.chat_messages(now, state.history, user)


def sections(state: DeepState) -> str:
    """One section per sub-question that found something new, its note citing `[N]`: the
    parts and follow-ups first, the whole question last; a quote appears once."""
    ordered = sorted(state.notes, key=lambda note: bool(note.get("whole")))
    shown: set[str] = set()
    parts: list[str] = []
    for note in ordered:
        quotes = [(s, n) for s, n in note.get("quotes", []) if s not in shown]
        if not quotes:
            continue
        shown.update(s for s, _ in quotes)
        text = " ".join(f"{sentence} [{n}]" for sentence, n in quotes)
        parts.append(render("deep", "section", subquestion=note["subquestion"], note=text))
    return "\n\n".join(parts)


def cut_notice(state: DeepState, deps: AgentDeps) -> str:
    if state.cut == "stopped":
        return template("deep", "cut_stopped")
    if state.cut == "time":
        return render(
            "deep",
            "cut_time",
            seconds=f"{deps.settings.agent.deep_time_budget_s:g}",
            rounds=state.round,
        )
    if state.cut == "rounds":
        open_ = ", ".join(state.open_queries) or "follow-up searches"
        return render("deep", "cut_rounds", rounds=state.round, open=open_)
    return ""


@deep_step("write", lambda s: None if s.cut == "stopped" else "Writing the answer")
def write(state: DeepState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Direct answer (streamed), then the sections and any budget notice."""
    cancel = deps.cancel_event(state.run_id)
    stopped = state.cut == "stopped" or cancel.is_set()
    tail = "\n\n".join(p for p in (sections(state), cut_notice(state, deps)) if p)
    prefix = ""
    if not state.contexts and not stopped:
        query = state.queries[0] if state.queries else state.question
        reason = f" ({state.failures[0]})" if state.failures else ""
        language = language_of(state.question)
        notice = message("no_results", language, query=query, reason=reason)
        prefix = f"{notice}\n\n{message('unsourced', language)} "
        writer(TokenEvent(text=prefix))
    usage = Usage()
    written: list[str] = []
    error: str | None = None
    if not stopped:
        stop = deps.dialect.deep_answer_stop
        sampling = sampling_for(deps.settings, deps.settings.agent.deep_answer_max_tokens, stop)

        def keep(chunk: str) -> bool:
            written.append(chunk)
            return True

        try:
            stream_tokens(
                deps.runtime,
                _messages(state, deps),
                sampling,
                usage,
                writer,
                stall_timeout_s=deps.settings.runtime.model_stall_timeout_s,
                cancel=cancel,
                keep=keep,
            )
        except MegrezSearchError as exc:
            error = str(exc)
            writer(ErrorEvent(message=error, step="write", fatal=False))
    direct = normalize_citations("".join(written)).strip()
    if direct.count("```") % 2:  # cut off inside a code block: close it before the sections
        direct += "\n```"
        writer(TokenEvent(text="\n```"))
    if cancel.is_set() and state.cut != "stopped":
        tail = "\n\n".join(p for p in (sections(state), template("deep", "cut_stopped")) if p)
    if tail:
        writer(TokenEvent(text=("\n\n" if direct or prefix else "") + tail))
    answer = "\n\n".join(p for p in (prefix + direct, tail) if p.strip())
    if error:
        log.warning("deep mode: the direct answer failed, keeping the notes: %s", error)
    return {
        "answer": answer,
        "stopped": stopped or cancel.is_set(),
        "cut": "stopped" if cancel.is_set() else state.cut,
        # A failed direct answer is not fatal while the notes stand on their own.
        "error": error if error and not tail else None,
        "tokens": {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens},
    }
