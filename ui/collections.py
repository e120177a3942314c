"""The sidebar's "Collections" panel: a user's named sets of files, each attachable to chats.

A collection is made by adding its first files under a new name; files are read and indexed
once (`ui.documents`), listed and removed here. The collections a chat uses are kept with the
chat (beside the per-chat model pick, keyed by user and thread) and searched on each of its
turns. Everything here is the logged-in user's only: the store is asked with their name.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import gradio as gr

from core.errors import MegrezSearchError
from core.settings import Settings
from store import ThreadIndex
from ui.attachments import DOCUMENT_SUFFIXES, keep_attachments
from ui.documents import ChatDocuments
from ui.login import user_of

log = logging.getLogger(__name__)


#: Where the collections picked for a chat not yet asked anything wait for its first question.
NEW_CHAT = "_new_chat"


class ChatCollections:
    """The collections each chat uses: a table of the conversation store keyed by user and
    thread (like the per-chat model), so every replica on one database shows the same."""

    def __init__(self, threads: ThreadIndex) -> None:
        self._threads = threads

    def get(self, user: str, thread_id: str | None) -> list[str]:
        return self._threads.collections(user, thread_id) if thread_id else []

    def set(self, user: str, thread_id: str, names: list[str]) -> None:
        self._threads.set_collections(user, thread_id, names)

    def import_file(self, path: Path) -> int:
        """Copy the choices of an older version's `ui.sqlite` (`chat_collections` table) into
        the store, for chats with none of their own; the number of chats copied. (The file is
        renamed `*.imported` by `ChatModels.import_file`, which runs after this.)"""
        if not path.is_file():
            return 0
        with closing(sqlite3.connect(path)) as conn:
            try:
                rows = conn.execute("SELECT thread_id, name FROM chat_collections").fetchall()
            except sqlite3.Error:
                rows = []
        chosen: dict[str, list[str]] = {}
        for key, name in rows:
            chosen.setdefault(str(key), []).append(str(name))
        copied = 0
        for key, names in chosen.items():
            user, _, thread_id = key.rpartition(":")  # thread ids have no ':'
            try:
                if not self.get(user, thread_id):
                    self.set(user, thread_id, names)
                    copied += 1
            except MegrezSearchError:
                log.warning("skipped the collections of %r from %s", key, path)
        log.info("imported the collections of %d chats from %s", copied, path)
        return copied


class CollectionsPanel:
    """The panel's handlers, bound to the document store."""

    def __init__(self, documents: ChatDocuments, threads: ThreadIndex, settings: Settings) -> None:
        self.documents = documents
        self.store = documents.store
        self.settings = settings
        self.chats = ChatCollections(threads)

    def names(self, user: str) -> list[str]:
        try:
            return [collection.name for collection in self.store.collections(user)]
        except Exception:
            log.exception("cannot list collections")
            return []

    def files(self, user: str, name: str | None) -> list[tuple[str, str]]:
        if not name:
            return []
        try:
            return [(info.name, info.doc_id) for info in self.store.list(user, collection=name)]
        except Exception:
            log.exception("cannot list collection %s", name)
            return []

    def refreshed(
        self, user: str, name: str | None, thread_id: str | None, status: str = ""
    ) -> tuple[Any, ...]:
        """The panel's components for `user`: collections, files of `name`, the chat's."""
        names = self.names(user)
        name = name if name in names else (names[0] if names else None)
        used = [n for n in self.chats.get(user, thread_id or NEW_CHAT) if n in names]
        files = self.files(user, name)
        return (
            gr.update(choices=names, value=name),
            gr.update(choices=files, value=None),
            gr.update(choices=names, value=used),
            status,
        )

    def on_show(
        self, name: str | None, thread_id: str | None, request: gr.Request | None = None
    ) -> tuple[Any, ...]:
        return self.refreshed(user_of(request), name, thread_id)

    def on_add(
        self,
        name: str | None,
        uploads: list[Any] | None,
        thread_id: str | None,
        request: gr.Request | None = None,
    ) -> tuple[Any, ...]:
        user = user_of(request)
        try:
            name = self.store.create_collection(user, name or "")
        except MegrezSearchError as exc:
            return (*self.refreshed(user, None, thread_id, f"⚠ {exc}"), None)
        attached = keep_attachments(list(uploads or []), self.settings, user)
        indexed = self.documents.attach(user, attached.documents, collection=name)
        problems = [*attached.problems, *indexed.problems]
        if attached.image or attached.audio:
            problems.append("images and voice clips go in the message box, not a collection")
        added = (
            f"Added {', '.join(indexed.names)} to {name}."
            if indexed.names
            else f"Collection {name} is ready: add files to it."
        )
        status = " ".join([added, *(f"⚠ {p}" for p in problems)]).strip()
        return (*self.refreshed(user, name, thread_id, status), None)

    def on_remove(
        self,
        name: str | None,
        doc_id: str | None,
        thread_id: str | None,
        request: gr.Request | None = None,
    ) -> tuple[Any, ...]:
        user = user_of(request)
        if not doc_id or doc_id not in {i for _, i in self.files(user, name)}:
            return self.refreshed(user, name, thread_id, "⚠ Pick a file of this collection.")
        try:
            self.store.remove(user, doc_id)
        except Exception:
            log.exception("cannot remove document %s", doc_id)
            return self.refreshed(user, name, thread_id, "⚠ The file could not be removed.")
        return self.refreshed(user, name, thread_id, "File removed.")

    def on_use(
        self, chosen: list[str] | None, thread_id: str | None, request: gr.Request | None = None
    ) -> str:
        user = user_of(request)
        names = [n for n in chosen or [] if n in self.names(user)]
        self.chats.set(user, thread_id or NEW_CHAT, names)
        return f"This chat searches {', '.join(names)}." if names else ""

    def of_chat(self, user: str, thread_id: str | None, *, new: bool = False) -> list[str]:
        """The collections chat `thread_id` searches (those that still exist); a `new` chat
        takes those picked before its first question."""
        if not thread_id:
            return []
        if new:
            self.chats.set(user, thread_id, self.chats.get(user, NEW_CHAT))
            self.chats.set(user, NEW_CHAT, [])
        return self.chats.get(user, thread_id)  # the store keeps only the user's existing ones


def collections_panel(panel: CollectionsPanel, thread: gr.State) -> None:
    """The panel, laid out where it is called (in the sidebar) and wired to `thread`."""
    with gr.Accordion("Collections", open=False, elem_id="collections") as accordion:
        name = gr.Dropdown(
            label="Collection (pick, or type a new name)",
            choices=[],
            value=None,
            allow_custom_value=True,
            interactive=True,
            elem_id="collection-name",
        )
        uploads = gr.File(
            label="Files to add",
            file_count="multiple",
            file_types=list(DOCUMENT_SUFFIXES),
            elem_id="collection-upload",
        )
        add = gr.Button("Add to collection", size="sm", elem_id="collection-add")
        files = gr.Dropdown(
            label="Files in this collection",
            choices=[],
            interactive=True,
            elem_id="collection-files",
        )
        remove = gr.Button("Remove file", size="sm", elem_id="collection-remove")
        used = gr.CheckboxGroup(
            label="Search in this chat", choices=[], elem_id="collection-use", interactive=True
        )
        status = gr.Markdown("", elem_id="collection-status")
    shown = [name, files, used, status]
    accordion.expand(panel.on_show, [name, thread], shown, queue=False)
    thread.change(panel.on_show, [name, thread], shown, queue=False)
    name.select(panel.on_show, [name, thread], shown, queue=False)
    add.click(panel.on_add, [name, uploads, thread], [*shown, uploads])
    remove.click(panel.on_remove, [name, files, thread], shown, queue=False)
    used.input(panel.on_use, [used, thread], status, queue=False)
