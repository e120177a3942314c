"""`megrez-search index SOURCE --collection NAME --user USER`: files into a user's collection.

Each file is read whole (agent.documents.read_file: PDF pages, DOCX, Markdown, text, HTML,
images through OCR) and stored privately for the user (store.documents); a file that cannot be
read is reported and skipped, nothing of it stored. Running it again adds new or changed files;
files already in the collection are left as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

from accounts import Accounts
from agent.documents import read_file
from core.errors import MegrezSearchError
from core.settings import Settings
from retrieval.documents.read import KINDS
from store import LOCAL_USER, DocumentStore, open_database
from wiring import document_limits


def collection_files(source: Path) -> list[Path]:
    """`source` itself, or the readable kinds of files under it."""
    if source.is_file():
        return [source]
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in KINDS)
    raise MegrezSearchError(f"cannot index {str(source)!r}: no such file or folder")


def fill_collection(source: str, collection: str, user: str | None, settings: Settings) -> int:
    files = collection_files(Path(source).expanduser())
    limits = document_limits(settings)
    database = open_database(settings.store)
    try:
        owner = LOCAL_USER
        if user is not None:
            found = Accounts(database).user_id(user)
            if found is None:
                raise MegrezSearchError(f"no account named {user!r} (see `megrez-search users`)")
            owner = found
        store = DocumentStore(database)
        store.create_collection(owner, collection)
        before = {info.doc_id for info in store.list(owner, collection=collection)}
        added = kept = 0
        failed: list[str] = []
        for path in files:
            try:
                if path.stat().st_size > limits.max_bytes:  # not even read into memory
                    raise MegrezSearchError(
                        f"{path.name} is over the limit of {limits.max_bytes / 1e6:g} MB"
                    )
                doc_id = store.add(
                    owner, read_file(path.name, path.read_bytes(), limits), collection=collection
                )
            except (OSError, MegrezSearchError) as exc:
                failed.append(f"{path}: {exc}")
                continue
            if doc_id in before:
                kept += 1
            else:
                added += 1
    finally:
        database.close()
    for line in failed[:20]:
        print(f"  not indexed: {line}", file=sys.stderr)
    if len(failed) > 20:
        print(f"  ... and {len(failed) - 20} more", file=sys.stderr)
    whose = f"{user}'s" if user is not None else "the"
    print(
        f"collection {collection!r} ({whose}): {added} files added, {kept} already there, "
        f"{len(failed)} not readable"
    )
    return 0 if added + kept else 1
