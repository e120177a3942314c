"""Files dropped or recorded in the message box, kept in the data dir with the conversation
(Gradio's temp files go), and the key that encrypts the browser's thread id."""

from __future__ import annotations

import logging
import mimetypes
import secrets
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from megrez_search.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Attachments:
    image: Path | None = None
    audio: Path | None = None
    problems: tuple[str, ...] = ()


def ui_secret(settings: Settings) -> str:
    """The key that encrypts the thread id in the browser; kept so it survives restarts."""
    path = settings.data_dir / "ui-secret"
    try:
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    path.write_text(secret, encoding="utf-8")
    path.chmod(0o600)
    return secret


def uploads_dir(settings: Settings, user: str | None = None) -> Path:
    """Where attachments are kept: Gradio's temp files go, the conversation stays.
    Each user's in a folder of their own (`local` for the user of a no-accounts install)."""
    root = settings.data_dir / "uploads"
    return root if user is None else root / (user or "local")


def keep_attachments(files: list[Any], settings: Settings, user: str = "") -> Attachments:
    """Sort uploaded/recorded files into one image and one audio clip, copied to the data dir."""
    image: Path | None = None
    audio: Path | None = None
    problems: list[str] = []
    for item in files or []:
        path = Path(item["path"] if isinstance(item, dict) else getattr(item, "path", item))
        mime = mimetypes.guess_type(path.name)[0] or ""
        kind = (
            "image"
            if mime.startswith("image/")
            else "audio"
            if mime.startswith(("audio/", "video/webm"))
            else None
        )
        if kind is None:
            problems.append(f"cannot use {path.name}: attach an image or a voice recording")
            continue
        if (image if kind == "image" else audio) is not None:
            problems.append(f"only one {kind} per question is used; {path.name} was left out")
            continue
        try:
            target = uploads_dir(settings, user) / f"{uuid.uuid4().hex}{path.suffix.lower()}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        except OSError as exc:
            log.warning("cannot keep upload %s: %s", path, exc)
            problems.append(f"cannot read {path.name}: {exc.strerror or exc}")
            continue
        if kind == "image":
            image = target
        else:
            audio = target
    return Attachments(image, audio, tuple(problems))
