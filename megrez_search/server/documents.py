"""Files and collections of an API request: the `file` parts read and indexed for the turn's
chat, the collections checked to be the caller's.

Every file is read before any is stored, so a request with one bad file stores nothing and
is a 400 naming that file. A stateless request's files are kept for its turn only.
"""

from __future__ import annotations

from collections.abc import Sequence

from megrez_search.agent.documents import read_file
from megrez_search.agent.retrieval_policy import document_limits
from megrez_search.errors import MegrezSearchError
from megrez_search.server.requests import APIError, UploadedFile
from megrez_search.settings import Settings
from megrez_search.store import DocumentStore


def index_uploads(
    store: DocumentStore,
    settings: Settings,
    user: str,
    chat_id: str,
    files: Sequence[UploadedFile],
) -> list[str]:
    """Read `files` and index them for `user`'s chat `chat_id`; their document ids."""
    limits = document_limits(settings)
    documents = []
    for upload in files:
        try:
            documents.append(read_file(upload.filename, upload.data, limits))
        except MegrezSearchError as exc:
            raise APIError(f"cannot use {upload.filename}: {exc}", code="invalid_file") from exc
    return [store.add(user, document, chat_id=chat_id) for document in documents]


def check_collections(store: DocumentStore, user: str, names: Sequence[str]) -> None:
    """An `APIError` (404) naming the first of `names` that is not a collection of `user`."""
    if not names:
        return
    own = {collection.name for collection in store.collections(user)}
    for name in names:
        if name not in own:
            raise APIError(
                f"no collection named {name!r} (a user's collections are made in the UI or "
                "with `megrez-search index --collection`)",
                status=404,
                code="collection_not_found",
            )
