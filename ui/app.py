"""The browser UI (`megrez-search ui`): a Gradio chat over the agent(s).

Each browser keeps its conversation's thread id in localStorage (`gr.BrowserState`, with a
secret kept in the data dir so it still decrypts after a restart); the conversation itself
lives in the agent's SQLite checkpointer. So a reload or a restart shows the same chat, and
several browsers talk to the agent at once with independent threads: the queue runs up to
`settings.server.ui_concurrency` turns concurrently, and the model backend serialises only its own
calls, so one user's searching and fetching overlaps another's answer.

The handlers are here; the page is laid out in `ui.layout`.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr

from accounts import LimitExceeded
from agent.api import AskRequest, SearchAgent
from core.errors import MegrezSearchError
from core.settings import Settings
from store import LOCAL_USER
from ui.attachments import keep_attachments, ui_secret
from ui.chats import (
    ChatModels,
    TurnAsked,
    browser_state,
    export_chat,
    followup_questions,
)
from ui.collections import CollectionsPanel
from ui.conversation import ChatMessage, TurnView, messages_from_turns, notice
from ui.documents import ChatDocuments
from ui.export import answer_markdown, last_answer
from ui.login import session_of, ui_limits, user_of
from ui.markup import plain_text
from ui.owned import owned_messages, served_copy
from ui.sidebar import ChatList
from ui.voice import Review, awaits_transcript, review_voice

log = logging.getLogger(__name__)

__all__ = ["ChatUI", "TurnUpdate", "browser_state", "ui_secret"]

FOLLOWUP_CHIPS = 3


class TurnUpdate(NamedTuple):
    """What a turn's handler updates, in the order of `Layout.turn_outputs`."""

    chat: Any
    box: Any
    thread: Any
    stored: Any
    past: Any
    status: Any
    stop: Any
    export: Any


class ChatUI:
    """The event handlers, bound to the agent; `build()` lays out the page."""

    def __init__(self, agent: SearchAgent, settings: Settings) -> None:
        self.agent = agent
        self.settings = settings
        self.documents = ChatDocuments(agent.store.documents, settings)
        self.collections = CollectionsPanel(self.documents, agent.store.threads, settings)
        self.chat_models = ChatModels(agent.store.threads)
        self.collections.chats.import_file(settings.store.data_dir / "ui.sqlite")
        self.chat_models.import_file(settings.store.data_dir / "ui.sqlite")  # then renames it
        self.limits = ui_limits(settings)
        # Questions asked per browser session: follow-ups computed for an earlier answer are
        # not shown once another question has been asked (they arrive seconds later).
        self.asked: dict[str, int] = {}
        self.sidebar = ChatList(agent, self.chat_models, settings)

    # --- chats ----------------------------------------------------------------------------

    def past_chats(self, selected: str | None = None, user: str = LOCAL_USER) -> dict[str, Any]:
        """The past-chats list as the page keeps it (ui.sidebar renders it)."""
        return self.sidebar.listing(selected, user)

    def open_thread(self, thread_id: str | None, user: str = LOCAL_USER) -> list[ChatMessage]:
        if not thread_id:
            return []
        try:
            turns = [
                {**turn, "sources": self.documents.shown_sources(turn.get("sources") or [], user)}
                for turn in self.agent.turns(thread_id, user)
            ]
            return owned_messages(messages_from_turns(turns), user)
        except Exception:
            log.exception("cannot read conversation %s", thread_id)
            return [notice("This conversation could not be read; start a new chat.")]

    def export_file(self, thread_id: str | None, user: str = LOCAL_USER) -> Any:
        try:
            exports = self.settings.store.data_dir / "exports"
            path = export_chat(self.agent, thread_id, exports, user)
            path = served_copy(path, user) if path else None
        except Exception:
            log.exception("cannot export conversation %s", thread_id)
            path = None
        return gr.update(value=path, interactive=path is not None)

    def on_load(
        self, stored: dict[str, Any] | None, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        user = user_of(request)
        stored = stored or {}
        thread_id = stored.get("thread_id")
        search = bool(stored.get("search", True))
        default = self.settings.runtime.model
        model = self.chat_models.get(user, thread_id) or stored.get("model") or default
        return (
            self.open_thread(thread_id, user),
            thread_id,
            self.past_chats(thread_id, user=user),
            search,
            self.configured(model) or default,
            self.export_file(thread_id, user),
        )

    def model_of(self, user: str, thread_id: str | None, current: str | None) -> str:
        """The model picker's value for a chat: the one it last used, else the current one."""
        model = self.chat_models.get(user, thread_id) or current or self.settings.runtime.model
        return self.configured(model) or self.settings.runtime.model

    def configured(self, model: str | None) -> str | None:
        """`model` if a chat may use it, else None (the default): a stale browser's pick of a
        model no longer configured falls back rather than failing the turn."""
        return model if model in self.agent.engines.choices else None

    def on_pick(
        self, thread_id: str | None, search: bool, model: str, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        if not thread_id:  # only a click on a listed chat opens one: nothing else clears it
            return tuple(gr.skip() for _ in range(5 + FOLLOWUP_CHIPS))
        user = user_of(request)
        model = self.model_of(user, thread_id, model)
        return (
            self.open_thread(thread_id, user),
            thread_id,
            browser_state(thread_id, search, model),
            model,
            self.export_file(thread_id, user),
            *hidden_chips(),
        )

    def on_new_chat(
        self, search: bool, model: str, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        return (
            [],
            None,
            browser_state(None, search, model),
            self.past_chats(None, user=user_of(request)),
            "",
            "",
            self.export_file(None),
            *hidden_chips(),
        )

    def on_settings(
        self, thread_id: str | None, search: bool, model: str, request: gr.Request | None = None
    ) -> dict[str, Any]:
        user = user_of(request)
        if thread_id and self.agent.turns(thread_id, user):
            self.chat_models.set(user, thread_id, model)  # the pick belongs to this chat
        return browser_state(thread_id, search, model)

    def on_stop(self, thread_id: str | None, request: gr.Request | None = None) -> None:
        user = user_of(request)
        if thread_id and not self.agent.stop(thread_id, user):
            log.info("stop: nothing running in %s", thread_id)

    def clipboard_html(self, thread_id: str | None, request: gr.Request | None = None) -> str:
        """`answer_markdown` as the text of the hidden #clipboard (ui.js copies it from there)."""
        text = self.answer_markdown(thread_id, request)
        return f"<pre>{html.escape(text, quote=False)}</pre>" if text else ""

    def answer_markdown(self, thread_id: str | None, request: gr.Request | None = None) -> str:
        """The last answer of the chat with its sources, as Markdown (for the clipboard)."""
        if not thread_id:
            return ""
        answer = last_answer(self.agent.turns(thread_id, user_of(request)))
        if answer is None:
            return ""
        return answer_markdown(str(answer.get("content") or ""), list(answer.get("sources") or []))

    # --- follow-ups -----------------------------------------------------------------------

    def on_ask(self, request: gr.Request | None = None) -> list[Any]:
        """A question is being sent: the chips of the answer before it go away (their text
        stays, a chip's click reads it)."""
        session = session_of(request)
        self.asked[session] = self.asked.get(session, 0) + 1
        return [gr.update(visible=False) for _ in range(FOLLOWUP_CHIPS)]

    def followups(
        self, thread_id: str | None, model: str | None = None, request: gr.Request | None = None
    ) -> list[Any]:
        """The follow-up chips of the chat's last answer (asked after it, never before), as
        plain text; nothing changes if another question was asked meanwhile."""
        if not self.settings.ui.followups or not thread_id:
            return hidden_chips()
        session = session_of(request)
        asked = self.asked.get(session, 0)
        questions = followup_questions(
            self.agent, thread_id, user_of(request), self.configured(model)
        )
        if self.asked.get(session, 0) != asked:
            return [gr.skip() for _ in range(FOLLOWUP_CHIPS)]
        padded = [*map(plain_text, questions), *[""] * FOLLOWUP_CHIPS][:FOLLOWUP_CHIPS]
        return [gr.update(value=q, visible=bool(q)) for q in padded]

    # --- turns ----------------------------------------------------------------------------

    def respond(
        self,
        box: dict[str, Any] | str | None,
        thread_id: str | None,
        search: bool,
        provider: str,
        pages: float | None = None,
        scope: str | None = None,
        model: str | None = None,
        memory: bool | None = None,
        deep: bool = False,
        request: gr.Request | None = None,
    ) -> Iterator[TurnUpdate]:
        """Run one turn from the message box (or a follow-up chip's question, asked in the
        chat with its current settings), yielding `TurnUpdate`s."""
        user = user_of(request)
        box = {"text": box} if isinstance(box, str) else box or {}
        if awaits_transcript(box):
            yield from self.review_voice(box)
            return
        attachments = keep_attachments(list(box.get("files") or []), self.settings, user)
        new = not thread_id
        thread_id = thread_id or uuid.uuid4().hex
        # Read and indexed before the question runs, so that its search finds them.
        indexed = self.documents.attach(user, attachments.documents, chat_id=thread_id)
        asked = TurnAsked(search, provider, pages, scope, memory, deep)
        ask = asked.request(
            str(box.get("text") or ""), thread_id, user, attachments.image, attachments.audio
        )
        ask.collections = tuple(self.collections.of_chat(user, thread_id, new=new))
        ask.file_names = indexed.names
        problems = (*attachments.problems, *indexed.problems)
        yield from self.run_turn(ask, model, problems, indexed.names)

    def review_voice(self, box: dict[str, Any]) -> Iterator[TurnUpdate]:
        """A recording becomes its transcript in the message box, to be checked and sent."""
        for step in review_voice(box, self.settings):
            review = step if isinstance(step, Review) else None
            yield TurnUpdate(
                gr.skip(),
                review.box if review else gr.skip(),
                gr.skip(),
                gr.skip(),
                gr.skip(),
                review.status if review else step,
                gr.update(elem_classes=["idle"]),  # nothing runs: Stop keeps its place, hidden
                gr.skip(),
            )

    def regenerate(
        self,
        thread_id: str | None,
        search: bool,
        provider: str,
        pages: float | None = None,
        scope: str | None = None,
        model: str | None = None,
        memory: bool | None = None,
        deep: bool = False,
        request: gr.Request | None = None,
    ) -> Iterator[TurnUpdate]:
        """Take back the last answer and ask its question again (with today's settings)."""
        user = user_of(request)
        asked = self.agent.rewind(thread_id, user) if thread_id else None
        if asked is None:
            chat = self.open_thread(thread_id, user)
            running = self.agent.is_running(thread_id, user) if thread_id else False
            status = (
                "⚠ Wait for the answer being written (or stop it) to regenerate."
                if running
                else "⚠ Nothing to regenerate yet: ask a question first."
            )
            yield TurnUpdate(
                chat, gr.skip(), thread_id, gr.skip(), gr.skip(), status, gr.skip(), gr.skip()
            )
            return
        ask = TurnAsked(search, provider, pages, scope, memory, deep).request(
            str(asked.get("content") or ""),
            thread_id,
            user,
            _existing(asked.get("image")),
            _existing(asked.get("audio")),
        )
        ask.collections = tuple(self.collections.of_chat(user, thread_id))
        yield from self.run_turn(ask, model, ())

    def run_turn(
        self,
        request: AskRequest,
        model: str | None,
        problems: tuple[str, ...],
        files: list[str] | None = None,
    ) -> Iterator[TurnUpdate]:
        thread_id = request.thread_id or uuid.uuid4().hex
        user = request.user
        request.model = self.configured(model)
        earlier = self.open_thread(thread_id, user)
        view = TurnView(
            question=request.question,
            image=str(request.image) if request.image else None,
            audio=str(request.audio) if request.audio else None,
            files=files or [],
        )
        for problem in problems:
            view.add_notice(problem)
        stored = browser_state(thread_id, request.search, model or self.settings.runtime.model)
        cleared = False

        def update(past: Any = None, export: Any = None) -> TurnUpdate:
            # The box is emptied once, when the question is taken: later updates leave it
            # alone so that the next question can be typed while this answer streams.
            nonlocal cleared
            view.sources = self.documents.shown_sources(view.sources, user)
            box_update = gr.skip() if cleared else gr.update(value=None)
            cleared = True
            return TurnUpdate(
                earlier + owned_messages(view.messages(), user),
                box_update,
                thread_id,
                stored,
                gr.skip() if past is None else past,
                view.status(),
                # Hidden, not removed, while idle: its place is kept, nothing moves.
                gr.update(elem_classes=["idle"] if view.finished else []),
                gr.skip() if export is None else export,
            )

        if not request.question.strip() and request.image is None and request.audio is None:
            if files and not problems:
                view.answer = f"{', '.join(files)}: ready. Ask a question about it."
                view.finished = view.progress.done = True
            else:
                view.add_notice("Type a question, or attach a document, an image or a recording.")
                view.finished = view.failed = True
            yield update()
            return
        try:
            slot = self.limits.acquire(user)
        except LimitExceeded as exc:
            view.add_notice(f"Too many questions at once: {exc}.")
            view.finished = view.failed = True
            yield update()
            return
        self.chat_models.set(user, thread_id, model)
        try:
            yield update()
            # Every event is shown at once (Gradio sends only the change): holding tokens
            # back to batch them would leave them unseen whenever the model pauses.
            for event in self.agent.stream(request):
                view.apply(event)
                yield update()
        except MegrezSearchError as exc:
            log.warning("question not run: %s", exc)
            view.add_notice(str(exc))
            view.failed = True
        except Exception as exc:
            log.exception("turn failed")
            view.add_notice(f"Something went wrong ({type(exc).__name__}: {exc}); try again.")
            view.failed = True
        finally:
            slot.release()
        view.finished = True
        view.failed = view.failed or bool(problems)  # an attachment was left out
        yield update(self.past_chats(thread_id, user=user), self.export_file(thread_id, user))


def hidden_chips() -> list[Any]:
    return [gr.update(value="", visible=False) for _ in range(FOLLOWUP_CHIPS)]


def _existing(path: str | None) -> Path | None:
    return Path(path) if path and Path(path).is_file() else None
