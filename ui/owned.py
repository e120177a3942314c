"""Files the page shows or offers for download (a chat's image and voice clip, a chat's
export), served to their owner only.

Nothing in the data dir is handed to Gradio as an allowed path. A file a user may see is
copied into Gradio's own upload folder, under `megrez-owned/<key of its owner>/`, and the
chat shows that copy; `ui.guard` serves a file there only to the user whose key names the
folder. The key is a hash of the user name, so any name makes a folder name; it is not a
secret (the guard checks the logged-in user, not the path).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OWNED_FOLDER = "megrez-owned"
FILE_ROUTE = "gradio_api/file="  # Gradio's route for its files, under the page's root path


def owned_root() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve() / OWNED_FOLDER


def owner_key(user: str) -> str:
    return hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def owner_key_of(path: Path) -> str | None:
    """The owner key of a file under the owned folder (`path` absolute); None elsewhere."""
    try:
        parts = path.relative_to(owned_root()).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 else ""


def served_copy(path: str | Path, user: str) -> str:
    """The copy of `path` that the page may show to `user` (made once; sources never change:
    uploads and exports are written under new random names)."""
    source = Path(path).resolve()
    folder = hashlib.sha256(str(source).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    target = owned_root() / owner_key(user) / folder / source.name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.part")
        shutil.copyfile(source, staging)
        staging.replace(target)
    return str(target)


def served_bytes(
    key: str, user: str, content: Callable[[], tuple[str, bytes] | None]
) -> str | None:
    """The copy that the page may offer `user` of their file `key` (a document), written
    once from `content()`, its (name, bytes); None when it has none (not theirs, or gone)."""
    folder = owned_root() / owner_key(user) / hashlib.sha256(key.encode()).hexdigest()[:32]
    kept = [path for path in folder.glob("*") if not path.name.startswith(".")]
    if kept:
        return str(kept[0])
    found = content()
    if found is None:
        return None
    name, data = found
    target = folder / (Path(name).name or "file")
    folder.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.part")
    staging.write_bytes(data)
    staging.replace(target)
    return str(target)


def file_url(path: str) -> str:
    """The page's link to a served copy, relative so that it holds under a root path."""
    return f"{FILE_ROUTE}{path}"


def owned_messages(messages: Iterable[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    """Chat messages with each attached file replaced by `user`'s served copy; a file that
    cannot be copied any more is left out."""
    shown = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, dict) and content.get("path"):
            try:
                content = {**content, "path": served_copy(content["path"], user)}
            except OSError as exc:
                log.warning("cannot show attachment %s: %s", content["path"], exc)
                continue
            message = {**message, "content": content}
        shown.append(message)
    return shown
