"""A chat turn as the Chatbot's messages: built event by event while the agent works, or
rebuilt from the recorded turns of a thread (page reload, app restart, reopened chat).

Pure data in, message dicts out (Gradio's "messages" format), so it is tested without a
browser. Message contents are HTML (the Chatbot parses no Markdown): every piece of
untrusted text goes through `ui.render`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.events import (
    RESEARCH_EVENTS,
    AgentEvent,
    AnswerEvent,
    DoneEvent,
    ErrorEvent,
    NoteEvent,
    PageEvent,
    PerceptionEvent,
    PlanEvent,
    PrefillEvent,
    QueryEvent,
    ReflectEvent,
    ResearchEvent,
    SearchResultsEvent,
    SourcesEvent,
    StepEvent,
    TokenEvent,
)
from ui.render import (
    answer_meta,
    link_html,
    render_answer,
    render_reply,
    site_of,
    text_html,
)

ChatMessage = dict[str, Any]


@dataclass
class StepView:
    label: str
    details: list[str] = field(default_factory=list)  # HTML lines, already safe
    reading: int | None = None  # percent of the prompt the model has read (PrefillEvent)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass
class Progress:
    """A turn's steps as ONE collapsible message: the live step as its title while the turn
    runs, then a summary ("Searched 1 query · read 5 pages · 3.2 s") that opens to the steps."""

    steps: list[StepView] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    pages_read: int = 0
    done: bool = False
    total_s: float | None = None

    def title(self) -> str:
        if not self.done:
            if not self.steps:
                return "Working…"
            step = self.steps[-1]
            if step.reading is not None and step.reading < 100:
                # Most of a CPU answer's wait: the model reads its sources before writing.
                return f"Reading the sources · {step.reading}%…"
            return text_html(step.label) + "…"
        parts = [f"Searched {_count(len(self.queries), 'query', 'queries')}"]
        parts.append(f"read {_count(self.pages_read, 'page', 'pages')}")
        if self.total_s is not None:
            parts.append(f"{self.total_s:.1f} s")
        return " · ".join(parts)

    def body(self) -> str:
        items = []
        for step in self.steps:
            details = "".join(f"<li>{detail}</li>" for detail in step.details)
            items.append(
                f"<li>{text_html(step.label)}"
                + (f"<ul>{details}</ul>" if details else "")
                + "</li>"
            )
        return f"<ul>{''.join(items)}</ul>" if items else ""

    def message(self) -> ChatMessage | None:
        """The progress message; None for a finished turn that searched nothing."""
        if self.done and not self.queries:
            return None
        return {
            "role": "assistant",
            "content": self.body(),
            "metadata": {"title": self.title(), "status": "done" if self.done else "pending"},
        }


def user_messages(
    question: str,
    image: str | Path | None = None,
    audio: str | Path | None = None,
    transcript: str | None = None,
    image_text: str | None = None,
    files: Iterable[str] = (),
) -> list[ChatMessage]:
    """The user's side of a turn: text, attachments (when the file still exists; documents
    as chips with their names), and what perception made of them (the transcript, the text
    read from the image)."""
    messages: list[ChatMessage] = []
    if question.strip():
        messages.append({"role": "user", "content": plain_prose(question)})
    chips = "".join(f'<span class="file-chip">{text_html(name)}</span>' for name in files)
    if chips:
        messages.append({"role": "user", "content": f'<div class="file-chips">{chips}</div>'})
    for path in (image, audio):
        if path and Path(path).is_file():
            messages.append({"role": "user", "content": {"path": str(path)}})
    if transcript:
        messages.append(
            {"role": "user", "content": f"<em>Transcript:</em> {text_html(transcript)}"}
        )
    if image_text:
        messages.append(
            {"role": "user", "content": f"<em>Text in the image:</em> {text_html(image_text)}"}
        )
    return messages


def plain_prose(text: str) -> str:
    """What the user typed, shown as typed: their Markdown kept, HTML not live."""
    return render_answer(text, ())


def notice(text: str) -> ChatMessage:
    return {"role": "assistant", "content": f"⚠ {text_html(without_paths(text))}"}


# An absolute path of two or more parts, not inside a URL (`https://host/a/b`) or a word.
_SERVER_PATH = re.compile(r"(?<![\w:/.~-])(?:/[^\s/'\"`()<>:]+)+/([^\s/'\"`()<>:]+)")


def without_paths(text: str) -> str:
    """An error for the chat with each server path cut to its file name: where the server
    keeps things (the data dir, uploads, its temp files) is not for its users."""
    return _SERVER_PATH.sub(r"\1", text)


@dataclass
class TurnView:
    """One question and everything shown for it, updated from the agent's events."""

    question: str
    image: str | None = None
    audio: str | None = None
    transcript: str | None = None
    image_text: str | None = None
    files: list[str] = field(default_factory=list)  # documents attached to this question
    progress: Progress = field(default_factory=Progress)
    streamed: str = ""
    answer: str | None = None
    sources: list[Mapping[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    finished: bool = False
    failed: bool = False
    stopped: bool = False
    total_s: float | None = None
    thread_id: str | None = None
    recorded: Mapping[str, Any] | None = None  # the answer's turn as the thread keeps it

    def apply(self, event: AgentEvent) -> None:
        if isinstance(event, StepEvent):
            self.progress.steps.append(StepView(event.label))
        elif isinstance(event, QueryEvent):
            self.progress.queries.append(event.query)
        elif isinstance(event, PerceptionEvent):
            self.transcript = event.transcript or self.transcript
            self.image_text = event.image_text or self.image_text
        elif isinstance(event, SearchResultsEvent):
            self._on_search_results(event)
        elif isinstance(event, PageEvent):
            self._on_page(event)
        elif isinstance(event, SourcesEvent):
            self.sources = list(event.sources)
        elif isinstance(event, PrefillEvent):
            if self.progress.steps and event.total > 0:
                self.progress.steps[-1].reading = min(100, 100 * event.done // event.total)
        elif isinstance(event, TokenEvent):
            self.streamed += event.text
        elif isinstance(event, AnswerEvent):
            self.answer = event.answer
        elif isinstance(event, ErrorEvent):
            prefix = "The answer could not be completed: " if event.fatal else ""
            self.add_notice(prefix + event.message)
        elif isinstance(event, RESEARCH_EVENTS):
            self._on_research(event)
        elif isinstance(event, DoneEvent):
            self._on_done(event)

    def _on_research(self, event: PlanEvent | ResearchEvent | NoteEvent | ReflectEvent) -> None:
        """Deep mode's progress as lines under the current step (expandable, compact)."""
        steps = self.progress.steps
        if not steps:
            steps.append(StepView("Researching"))
        details = steps[-1].details
        if isinstance(event, PlanEvent):
            details.extend(
                f"Sub-question (round {event.round}): {text_html(text)}"
                for text in event.subquestions
            )
        elif isinstance(event, ResearchEvent):
            read = sum(1 for page in event.pages if page.get("ok"))
            self.progress.queries.append(event.query)
            self.progress.pages_read += read
            details.append(f"Searched {text_html(event.query)}: {read} page(s)")
        elif isinstance(event, ReflectEvent):
            details.append(f"Round {event.round}: {text_html(event.reason)}")

    def add_notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)

    def _on_search_results(self, event: SearchResultsEvent) -> None:
        if event.results:
            return
        if event.failures:
            self.add_notice("Search failed (" + "; ".join(event.failures) + ").")
        else:
            self.add_notice("The search found nothing.")

    def _on_page(self, event: PageEvent) -> None:
        steps = self.progress.steps
        if not steps:
            steps.append(StepView("Reading pages"))
        site = site_of(event.url)
        if event.ok:
            self.progress.pages_read += 1
            line = f"✓ {link_html(event.title or event.url, event.url)}" + (
                f" — {text_html(site)}" if site else ""
            )
        else:
            line = (
                f"✗ {text_html(event.title or event.url)} — {text_html(event.reason or 'failed')}"
            )
        steps[-1].details.append(line)

    def _on_done(self, event: DoneEvent) -> None:
        result = event.result
        self.finished = True
        self.progress.done = True
        self.progress.queries = list(result.queries) or self.progress.queries
        self.total_s = result.timings.get("total")
        self.recorded = result.recorded
        if result.recorded is not None:
            # Shown as a reload will show it: from what the turn recorded.
            self.total_s = result.recorded.get("seconds", self.total_s)
            self.progress.pages_read = result.recorded.get("pages_read", self.progress.pages_read)
        self.progress.total_s = self.total_s
        self.thread_id = result.thread_id
        self.answer = result.answer if result.answer else (self.answer or self.streamed)
        self.sources = [dict(source) for source in result.sources] or self.sources
        self.transcript = result.transcript or self.transcript
        self.failed = bool(result.error)
        self.stopped = result.stopped
        if result.error:
            self.add_notice(
                result.error
                if any(result.error in text for text in self.notices)
                else "The answer could not be completed: " + result.error
            )
            self.notices = _dedupe_contained(self.notices)
        if result.stopped:
            self.add_notice("Stopped.")

    def status(self) -> str:
        """The line under the chat: how the turn ended. Empty while it runs: what is happening
        now is the one live line, the title of the turn's progress block."""
        if not self.finished:
            return ""
        if self.stopped:
            return "■ Stopped"
        if self.failed or (self.notices and not (self.answer or "").strip()):
            return "⚠ The question could not be answered completely"
        took = f" in {self.total_s:.1f} s" if self.total_s is not None else ""
        return f"✓ Answered{took}"

    def messages(self) -> list[ChatMessage]:
        messages = user_messages(
            self.question, self.image, self.audio, self.transcript, self.image_text, self.files
        )
        progress = self.progress.message()
        if progress is not None:
            messages.append(progress)
        text = self.answer if self.answer is not None else self.streamed
        if text.strip() or (self.sources and not self.finished):
            # The source cards show as soon as the passages are chosen, before the first word.
            meta = _meta_of(self.recorded) if self.finished else ""
            content = render_reply(text, self.sources, meta, final=self.finished)
            messages.append({"role": "assistant", "content": content})
        messages.extend(notice(text) for text in self.notices)
        return messages


def _dedupe_contained(texts: list[str]) -> list[str]:
    """Drop notices whose text is already part of a longer one."""
    return [t for t in texts if not any(t != other and t in other for other in texts)]


def messages_from_turns(turns: Iterable[Mapping[str, Any]]) -> list[ChatMessage]:
    """The chat of a recorded thread (`SearchAgent.turns`), as it looked when it was asked."""
    messages: list[ChatMessage] = []
    for turn in turns:
        if turn.get("role") == "user":
            messages.extend(
                user_messages(
                    turn.get("content", ""),
                    turn.get("image"),
                    turn.get("audio"),
                    turn.get("transcript"),
                    turn.get("image_text"),
                    turn.get("file_names") or (),
                )
            )
            continue
        progress = recorded_progress(turn)
        if progress is not None:
            messages.append(progress)
        answer = turn.get("content", "")
        if answer.strip():
            content = render_reply(answer, turn.get("sources") or [], _meta_of(turn))
            messages.append({"role": "assistant", "content": content})
        elif turn.get("error"):  # the recorded answer already explains a failure when present
            messages.append(notice("The answer could not be completed: " + str(turn["error"])))
        if turn.get("stopped"):
            messages.append(notice("Stopped."))
    return messages


def _meta_of(turn: Mapping[str, Any] | None) -> str:
    """The time and model line of a recorded answer ("" for none)."""
    return answer_meta(turn.get("at"), turn.get("model")) if turn else ""


def recorded_progress(turn: Mapping[str, Any]) -> ChatMessage | None:
    """The collapsed progress block of a recorded answer: its queries and sources, with the
    summary line it had when it was answered (pages read and seconds, when recorded)."""
    queries = list(turn.get("queries") or [])
    sources = list(turn.get("sources") or [])
    steps = [StepView(f"Searched: {query}") for query in queries]
    if steps and sources:
        steps[-1].details.extend(
            link_html(str(s.get("title") or s.get("url", "")), str(s.get("url", "")))
            for s in sources
        )
    pages_read = turn.get("pages_read", len(sources))  # older turns recorded only sources
    progress = Progress(steps, queries, pages_read, done=True, total_s=turn.get("seconds"))
    return progress.message()
