"""The files of an API request: its `file` parts read and indexed for the turn's chat.

Every file is read before any is stored, so a request with one bad file stores nothing and
is a 400 naming that file; a request refused after that has its new files removed again. A
stateless request's files are kept for its turn only.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.documents import read_file
from core.errors import MegrezSearchError
from core.settings import Settings
from server.requests import APIError, UploadedFile
from store import DocumentStore
from wiring import document_limits


def index_uploads(
    store: DocumentStore,
    settings: Settings,
    user: str,
    chat_id: str,
    files: Sequence[UploadedFile],
) -> list[str]:
    """Read `files` and index them for `user`'s chat `chat_id`; the ids of those that were
    not there yet (the same file given again is stored once)."""
    limits = document_limits(settings)
    documents = []
    for upload in files:
        try:
            documents.append(read_file(upload.filename, upload.data, limits))
        except MegrezSearchError as exc:
            raise APIError(f"cannot use {upload.filename}: {exc}", code="invalid_file") from exc
    known = {info.doc_id for info in store.list(user, chat_id=chat_id)}
    added = [store.add(user, document, chat_id=chat_id) for document in documents]
    return [doc_id for doc_id in added if doc_id not in known]


def remove_documents(store: DocumentStore, user: str, doc_ids: Sequence[str]) -> None:
    for doc_id in doc_ids:
        store.remove(user, doc_id)
