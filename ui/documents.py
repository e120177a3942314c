"""Documents in the chat: the files of the message box, read once and indexed privately for
the chat (`store.documents`), and the sources that cite them ("report.pdf, p. 7", URL
`doc:<id>#page=7`) linked to their owner's copy of the file.

A file is read whole before anything of it is stored: a file that cannot be read (broken,
encrypted, over a cap, named like a path) leaves nothing behind and one message naming it.
The link of a file source is a copy in `ui.owned`'s folder, which `ui.guard` serves to its
owner only and Gradio as a download (`application/octet-stream`, never a page that runs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent.documents import read_file
from agent.file_sources import is_file_source
from core.errors import MegrezSearchError
from core.settings import Settings
from store import DocumentStore
from ui.attachments import NamedFile
from ui.owned import file_url, served_bytes
from wiring import document_limits

log = logging.getLogger(__name__)


@dataclass
class Indexed:
    """What became of some uploaded documents: the names indexed, a message per refusal."""

    names: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class ChatDocuments:
    """The UI users' documents, read with the settings' limits into the private store."""

    def __init__(self, store: DocumentStore, settings: Settings) -> None:
        self.store = store
        self.limits = document_limits(settings)

    def attach(
        self,
        user: str,
        files: Sequence[NamedFile],
        *,
        chat_id: str | None = None,
        collection: str | None = None,
    ) -> Indexed:
        """Read and index `files` for `user`'s chat `chat_id` (or their `collection`)."""
        indexed = Indexed()
        for upload in files:
            try:
                document = read_file(upload.name, upload.data, self.limits)
                self.store.add(user, document, chat_id=chat_id, collection=collection)
            except MegrezSearchError as exc:
                log.info("document refused (%s): %s", upload.name, exc)
                indexed.problems.append(f"cannot use {upload.name}: {exc}")
            except Exception:
                log.exception("cannot index %s", upload.name)
                indexed.problems.append(f"cannot use {upload.name}: it could not be indexed")
            else:
                indexed.names.append(upload.name)
        return indexed

    def shown_sources(
        self, sources: Iterable[Mapping[str, Any]], user: str
    ) -> list[Mapping[str, Any]]:
        """`sources` with each file source linked to `user`'s copy of the file at its page;
        a file that is not theirs (or is gone) is left without a link."""
        return [
            {**source, "url": self.link(str(source["url"]), user)}
            if is_file_source(str(source.get("url", "")))
            else source
            for source in sources
        ]

    def link(self, url: str, user: str) -> str:
        """The page's link to the file of a `doc:<id>#page=<n>` source, or "" for none."""
        parts = urlsplit(url)
        doc_id = parts.path

        def data() -> tuple[str, bytes] | None:
            try:
                stored = self.store.file_bytes(user, doc_id)
            except Exception:
                log.exception("cannot read document %s", doc_id)
                return None
            return (stored.name, stored.data) if stored else None

        path = served_bytes(doc_id, user, data)
        if path is None:
            return ""
        return file_url(path) + (f"#{parts.fragment}" if parts.fragment else "")
