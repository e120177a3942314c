"""The sidebar's past chats: one list, grouped Today / Previous 7 days / Older, each chat
with its title and date; "Search chats" filters the same list. The open chat can be renamed
or deleted, and a delete is undoable for `settings.ui.undo_delete_s`: the chat is only hidden
(`ThreadIndex.hide`) and purged when its window ends (on the page's timer, or on any later
listing when no page was left to tick).

The list only ever opens a chat when one is clicked (`.input`): searching, filtering or
re-rendering it never touches the open conversation."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import gradio as gr

from agent.api import SearchAgent, ThreadInfo
from core.settings import Settings
from store import LOCAL_USER, ThreadIndex, UnstorableTextError
from ui.chats import ChatModels, matching_chats
from ui.login import session_of, user_of

log = logging.getLogger(__name__)

#: The list's groups: (heading, elem_id), newest first.
GROUPS = (("Today", "chats-today"), ("Previous 7 days", "chats-week"), ("Older", "chats-older"))
WEEK_DAYS = 7
SESSIONS_REMEMBERED = 2000  # pages' last listing and title kept (to skip identical re-renders)
LABEL_CHARS = 60  # of a title in the list (two lines of the sidebar); the rename box has all


def stamp(moment: datetime) -> str:
    """A time as the conversation index writes it (local time, ISO 8601)."""
    return moment.isoformat(timespec="microseconds")


def group_of(updated_at: str, now: datetime) -> int:
    """The index in `GROUPS` of a chat last used at `updated_at`, seen at `now`."""
    try:
        days = (now.date() - datetime.fromisoformat(updated_at).date()).days
    except ValueError:
        return len(GROUPS) - 1
    if days <= 0:
        return 0
    return 1 if days <= WEEK_DAYS else 2


def date_label(updated_at: str, now: datetime) -> str:
    """ "14:05" today, "Wed 14:05" this week, "3 Dec 2025" before."""
    try:
        moment = datetime.fromisoformat(updated_at)
    except ValueError:
        return ""
    group = group_of(updated_at, now)
    if group == 0:
        return f"{moment:%H:%M}"
    if group == 1:
        return f"{moment:%a %H:%M}"
    return f"{moment.day} {moment:%b %Y}"


def grouped(threads: Sequence[ThreadInfo], now: datetime) -> list[list[tuple[str, str]]]:
    """The chats as (label, thread id) choices per group; a label is the title, then the
    date on its own line (ui.css keeps the line break)."""
    groups: list[list[tuple[str, str]]] = [[] for _ in GROUPS]
    for info in threads:
        title = info.title if len(info.title) <= LABEL_CHARS else info.title[:LABEL_CHARS] + "…"
        label = f"{title}\n{date_label(info.updated_at, now)}"
        groups[group_of(info.updated_at, now)].append((label, info.thread_id))
    return groups


def found_line(words: str, count: int) -> str:
    if not words.strip():
        return ""
    return f"{count} chat{'' if count == 1 else 's'} found"


class ChatList:
    """The past-chats list's handlers (the page wires them in `ui.layout`)."""

    def __init__(
        self,
        agent: SearchAgent,
        chat_models: ChatModels,
        settings: Settings,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.agent = agent
        self.chat_models = chat_models
        self.settings = settings
        self.clock = clock
        # The listing each page was last sent (by Gradio session): an identical one is skipped,
        # since re-rendering the radios drops a click that lands while the update is in flight.
        self._sent: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._sent_lock = threading.Lock()

    @property
    def index(self) -> ThreadIndex:
        return self.agent.store.threads

    def show(self, words: str, thread_id: str | None, user: str = LOCAL_USER) -> list[Any]:
        """The three groups' updates (the open chat selected) and the "N chats found" line."""
        self.purge()
        threads = self.agent.threads(user)
        if words.strip():
            keep = set(matching_chats(self.agent, threads, words, user))
            threads = [info for info in threads if info.thread_id in keep]
        groups = grouped(threads, self.clock())
        updates = [
            gr.update(
                choices=choices,
                value=thread_id if thread_id in {v for _, v in choices} else None,
                visible=bool(choices),
            )
            for choices in groups
        ]
        return [*updates, found_line(words, len(threads))]

    def title(self, thread_id: str | None, user: str = LOCAL_USER) -> dict[str, Any]:
        """The rename box: the open chat's title, or empty and disabled with no chat listed."""
        title = next((i.title for i in self.agent.threads(user) if i.thread_id == thread_id), "")
        return gr.update(value=title, interactive=bool(title))

    def rename(self, thread_id: str | None, title: str, user: str = LOCAL_USER) -> str:
        """Rename the open chat; "" when done, else what went wrong (for the status line)."""
        title = " ".join(title.split())
        if not thread_id or not title:
            return "⚠ Type the chat's new title first."
        try:
            renamed = self.index.rename(user, thread_id, title)
        except UnstorableTextError as exc:
            return f"⚠ This title cannot be kept: {exc}."
        return "" if renamed else "⚠ Only a chat with a question can be renamed."

    def delete(self, thread_id: str | None, user: str = LOCAL_USER) -> bool:
        """Hide the chat, to be purged when the undo window ends; False if none was listed."""
        if not thread_id:
            return False
        return self.index.hide(user, thread_id, stamp(self.clock()))

    def undo(self, thread_id: str | None, user: str = LOCAL_USER) -> bool:
        return bool(thread_id) and self.index.restore(user, thread_id or "")

    def purge(self, now: datetime | None = None) -> None:
        """Delete for good every chat whose undo window has ended (any user's)."""
        now = now or self.clock()
        cutoff = stamp(now - timedelta(seconds=self.settings.ui.undo_delete_s))
        for owner, thread_id in self.index.expired(cutoff):
            try:
                self.agent.delete_thread(thread_id, owner)
            except Exception:
                log.exception("cannot purge deleted conversation %s", thread_id)

    def listing(self, selected: str | None, user: str = LOCAL_USER) -> dict[str, Any]:
        """What the page keeps of the list (a `gr.State`): any change re-renders it."""
        threads = self.agent.threads(user)
        return {
            "selected": selected,
            "choices": [(info.title, info.thread_id) for info in threads],
            "updated": [info.updated_at for info in threads],
        }

    # --- the page's events ------------------------------------------------------------------

    def on_search_chats(
        self, words: str, thread_id: str | None, request: gr.Request | None = None
    ) -> list[Any]:
        updates = self.show(words or "", thread_id, user_of(request))
        session = session_of(request)
        if session and not self._changed(session, updates):
            return [gr.skip() for _ in updates]
        return updates

    def _changed(self, session: str, updates: list[Any]) -> bool:
        """Whether `updates` differ from what this page was last sent (and remember them)."""
        sent = tuple(repr(update) for update in updates)
        with self._sent_lock:
            changed = self._sent.get(session) != sent
            self._sent[session] = sent
            self._sent.move_to_end(session)
            while len(self._sent) > SESSIONS_REMEMBERED:
                self._sent.popitem(last=False)
        return changed

    def on_title(self, thread_id: str | None, request: gr.Request | None = None) -> Any:
        """The rename box, sent only when it would change: the list changes twice after an
        answer, and a second, identical refresh must not overwrite a title the user has
        started typing."""
        update = self.title(thread_id, user_of(request))
        session = session_of(request)
        if session and not self._changed(f"title {session}", [update]):
            return gr.skip()
        return update

    def on_rename(
        self, thread_id: str | None, title: str, request: gr.Request | None = None
    ) -> tuple[str, dict[str, Any]]:
        """(status line, new listing)."""
        user = user_of(request)
        problem = self.rename(thread_id, title or "", user)
        if problem:
            log.info("chat %s not renamed: %s", thread_id, problem)
        return problem, self.listing(thread_id, user)

    def on_delete(self, thread_id: str | None, request: gr.Request | None = None) -> list[Any]:
        """(the deleted chat, the undo bar, its timer); an error (no new chat) if it failed."""
        if not thread_id:
            log.info("delete: no chat open")
            raise gr.Error(
                "No chat is open: open one in the list to delete it.", print_exception=False
            )
        try:
            deleted = self.delete(thread_id, user_of(request))
        except Exception:
            log.exception("cannot delete conversation %s", thread_id)
            deleted = False
        if not deleted:
            raise gr.Error("This chat could not be deleted; try again.", print_exception=False)
        return [thread_id, gr.update(visible=True), gr.Timer(active=True)]

    def on_undo(self, deleted: str | None, request: gr.Request | None = None) -> list[Any]:
        """(the open chat: the restored one, no deleted chat, the bar hidden, its timer off)."""
        if not self.undo(deleted, user_of(request)):
            log.info("conversation %s could not be restored", deleted)
            raise gr.Error("This chat can no longer be restored.", print_exception=False)
        return [deleted, None, gr.update(visible=False), gr.Timer(active=False)]

    def on_expire(self) -> list[Any]:
        """The undo window ended: purge, hide the bar, stop the timer."""
        self.purge()
        return [None, gr.update(visible=False), gr.Timer(active=False)]


class ChatListView:
    """The list's components, laid out in the sidebar (`build`) and the undo bar (`undo_bar`)."""

    def build(self) -> None:
        self.find = gr.Textbox(
            label="Search chats", placeholder="Title or text", elem_id="chat-search"
        )
        self.found = gr.Markdown("", elem_id="chat-search-count")
        with gr.Column(elem_id="past-chats", elem_classes=["chat-list"]):
            self.groups = [
                gr.Radio(
                    label=heading, choices=[], visible=False, interactive=True, elem_id=elem_id
                )
                for heading, elem_id in GROUPS
            ]
        with gr.Row(elem_id="chat-actions"):
            self.title = gr.Textbox(
                label="Title of this chat", max_lines=1, elem_id="chat-title", scale=3
            )
            self.rename = gr.Button("Rename", size="sm", elem_id="rename-chat", scale=1)
        self.delete = gr.Button("Delete this chat", size="sm", elem_id="delete-chat")

    def undo_bar(self, undo_s: float) -> None:
        self.deleted = gr.State(None)
        with gr.Row(visible=False, elem_id="undo-bar") as self.bar:
            gr.Markdown("Chat deleted", elem_id="undo-text")
            self.undo = gr.Button("Undo", size="sm", elem_id="undo-delete")
        self.timer = gr.Timer(undo_s, active=False)
