"""Past chats (listing, searching by title and text, exporting) and the per-chat choices of
model and search scope. Plain functions over the agent, so they are tested without a page."""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.api import AskRequest, SearchAgent, ThreadInfo
from core.errors import MegrezSearchError
from core.settings import Settings
from retrieval.index_store import list_indexes
from store import LOCAL_USER, ThreadIndex
from ui.export import conversation_markdown, export_name
from wiring import index_store

log = logging.getLogger(__name__)

_THREAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: The scope value that means "the provider chain of this chat" (the web by default).
WEB_SCOPE = "web"


def matching_chats(
    agent: SearchAgent, threads: Sequence[ThreadInfo], words: str, user: str = LOCAL_USER
) -> list[str]:
    """Thread ids whose title or text contains every word of `words` (any case)."""
    terms = words.lower().split()
    if not terms:
        return [info.thread_id for info in threads]
    found = []
    for info in threads:
        try:
            text = " ".join(str(t.get("content", "")) for t in agent.turns(info.thread_id, user))
        except Exception:
            log.exception("cannot read conversation %s", info.thread_id)
            text = ""
        haystack = f"{info.title} {text}".lower()
        if all(term in haystack for term in terms):
            found.append(info.thread_id)
    return found


def export_chat(
    agent: SearchAgent, thread_id: str | None, folder: Path, user: str = LOCAL_USER
) -> str | None:
    """Write `user`'s chat as Markdown under `folder` (in a folder of the user's own, under a
    new random name each time); its path, or None. The page offers `ui.owned`'s copy."""
    if not thread_id or not _THREAD_ID.fullmatch(thread_id):  # it names a folder
        return None
    turns = agent.turns(thread_id, user)
    if not turns:
        return None
    titles = (i.title for i in agent.threads(user) if i.thread_id == thread_id)
    title = next(titles, "Conversation")
    path = folder / (user or "local") / secrets.token_hex(16) / export_name(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(conversation_markdown(title, turns), encoding="utf-8")
    return str(path)


def scope_choices(settings: Settings) -> list[tuple[str, str]]:
    """Where a chat can search: its provider chain (named for what it searches: the web, or
    the local indexes it lists, as in the demo), or one other local index."""
    try:
        names = list_indexes(index_store(settings))
    except OSError:
        names = []
    chain = [part.strip() for part in settings.retrieval.search.split(",") if part.strip()]
    in_chain = {part.removeprefix("local:") for part in chain if part.startswith("local:")}
    others = (name for name in names if name not in in_chain)
    return [
        (chain_label(chain), WEB_SCOPE),
        *((f"Index: {name}", f"local:{name}") for name in others),
    ]


def chain_label(chain: Sequence[str]) -> str:
    """What a provider chain searches, in the words of the "Search in" picker."""
    indexes = [part.removeprefix("local:") for part in chain if part.startswith("local:")]
    if not indexes:
        return "Web"
    named = ", ".join(indexes)
    return f"Index: {named}" if len(indexes) == len(chain) else f"Web and index: {named}"


def provider_for(scope: str | None, chain: str) -> str | None:
    """The provider chain a turn uses: the chat's chain for the web, else the index."""
    if scope and scope != WEB_SCOPE:
        return scope
    return chain.strip() or None


@dataclass(frozen=True)
class TurnAsked:
    """The chat's controls when a question is asked (the turn inputs after the thread)."""

    search: bool
    provider: str
    pages: float | None
    scope: str | None
    memory: bool | None
    deep: bool

    def request(
        self,
        question: str,
        thread_id: str | None,
        user: str,
        image: Path | None,
        audio: Path | None,
    ) -> AskRequest:
        return AskRequest(
            question=question,
            thread_id=thread_id,
            search=bool(self.search),
            provider=provider_for(self.scope, self.provider),
            max_pages=int(self.pages) if self.pages else None,
            memory_fallback=self.memory,
            deep=bool(self.deep),
            image=image,
            audio=audio,
            user=user,
        )


class ChatModels:
    """The model each chat last used (the picker is per chat): a column of the conversation
    store, so every replica on one database shows the same choice."""

    def __init__(self, threads: ThreadIndex) -> None:
        self._threads = threads

    def get(self, user: str, thread_id: str | None) -> str | None:
        return self._threads.model(user, thread_id) if thread_id else None

    def set(self, user: str, thread_id: str | None, model: str | None) -> None:
        if thread_id and model:
            now = datetime.now().isoformat(timespec="microseconds")
            self._threads.set_model(user, thread_id, model, now)

    def import_file(self, path: Path) -> int:
        """Copy the choices of an older version's `ui.sqlite` (`chat_models` table) into the
        store, for the chats it has and no choice of their own; the file is then renamed
        `*.imported` so this runs once. The number of choices copied."""
        if not path.is_file():
            return 0
        with closing(sqlite3.connect(path)) as conn:
            try:
                rows = conn.execute("SELECT thread_id, model FROM chat_models").fetchall()
            except sqlite3.Error:
                rows = []
        copied = 0
        for key, model in rows:
            user, _, thread_id = str(key).rpartition(":")  # thread ids have no ':'
            if model and self._threads.model(user, thread_id) is None:
                try:
                    self.set(user, thread_id, str(model))
                    copied += 1
                except MegrezSearchError:
                    log.warning("skipped the model choice of %r from %s", key, path)
        log.info("imported %d chat model choices from %s", copied, path)
        try:
            path.rename(path.with_name(path.name + ".imported"))
        except OSError:  # imported again next start: choices already set are kept
            log.warning("could not rename %s after importing it", path, exc_info=True)
        return copied


def followup_questions(
    agent: SearchAgent, thread_id: str, user: str, model: str | None = None
) -> list[str]:
    """Follow-ups to the chat's finished, successful last answer (written by `model`); none
    otherwise."""
    turns = agent.turns(thread_id, user)
    if agent.is_running(thread_id, user) or not turns or turns[-1].get("role") != "assistant":
        return []
    if turns[-1].get("error") or not str(turns[-1].get("content") or "").strip():
        return []
    try:
        return agent.followups(thread_id, user, model)
    except Exception:
        log.exception("follow-up suggestions failed")
        return []


def browser_state(thread_id: str | None, search: bool, model: str | None = None) -> dict[str, Any]:
    """What the browser keeps across reloads: its conversation, search toggle and model."""
    return {"thread_id": thread_id, "search": bool(search), "model": model}
