"""Files dropped or recorded in the message box, kept in the data dir with the conversation
(Gradio's temp files go), and the key that encrypts the browser's thread id.

An image is kept only as pixels: decoded with Pillow and written again as PNG (JPEG for a
JPEG), so what is kept and shown is never active content (an SVG's script, an HTML page
named .png) and carries no metadata. A file that is refused is deleted at once, and the
messages about it name the file, never where the server keeps it.
"""

from __future__ import annotations

import logging
import mimetypes
import secrets
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import Settings

log = logging.getLogger(__name__)


#: Documents the message box takes (read into passages and indexed for the chat).
DOCUMENT_SUFFIXES = (".pdf", ".docx", ".md", ".markdown", ".txt", ".html", ".htm")


@dataclass(frozen=True)
class NamedFile:
    """A document as uploaded: its name as the user gave it, and its bytes."""

    name: str
    data: bytes


@dataclass
class Attachments:
    image: Path | None = None
    audio: Path | None = None
    problems: tuple[str, ...] = ()
    documents: tuple[NamedFile, ...] = ()


def ui_secret(settings: Settings) -> str:
    """The key that encrypts the thread id in the browser; kept so it survives restarts."""
    path = settings.store.data_dir / "ui-secret"
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
    root = settings.store.data_dir / "uploads"
    return root if user is None else root / (user or "local")


def keep_attachments(files: list[Any], settings: Settings, user: str = "") -> Attachments:
    """Sort uploaded/recorded files into one image and one audio clip, kept in the data dir
    (images re-encoded), and documents, read into memory for indexing; Gradio's copies of
    the uploads are deleted."""
    image: Path | None = None
    audio: Path | None = None
    problems: list[str] = []
    documents: list[NamedFile] = []
    for item in files or []:
        path = Path(item["path"] if isinstance(item, dict) else getattr(item, "path", item))
        try:
            kind = kind_of(path)
            if kind is None:
                problems.append(
                    f"cannot use {path.name}: attach a document (PDF, DOCX, Markdown, text, "
                    "HTML), an image or a voice recording"
                )
            elif kind == "document":
                documents.append(NamedFile(path.name, read_upload(path, settings)))
            elif (image if kind == "image" else audio) is not None:
                problems.append(f"only one {kind} per question is used; {path.name} was left out")
            elif kind == "image":
                image = keep_image(path, uploads_dir(settings, user))
            else:
                audio = keep_file(path, uploads_dir(settings, user))
        except Refused as exc:
            log.info("upload refused (%s): %s", path, exc)
            problems.append(f"cannot use {path.name}: {exc}")
        finally:
            discard_upload(path)
    return Attachments(image, audio, tuple(problems), tuple(documents))


class Refused(Exception):
    """An upload that is not kept; the message is fit to show (it names no server path)."""


def kind_of(path: Path) -> str | None:
    if path.suffix.lower() in DOCUMENT_SUFFIXES:
        return "document"
    mime = mimetypes.guess_type(path.name)[0] or ""
    if mime.startswith("image/"):
        return "image"
    return "audio" if mime.startswith(("audio/", "video/webm")) else None


def keep_image(path: Path, folder: Path) -> Path:
    """The image's pixels written again as PNG (JPEG for a JPEG) under `folder`."""
    import warnings

    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as source:
                source.load()
                jpeg = source.format == "JPEG"
                alpha = source.mode in ("RGBA", "LA", "PA") or "transparency" in source.info
                pixels = ImageOps.exif_transpose(source)
                pixels = pixels.convert("RGBA" if alpha and not jpeg else "RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refused("the image is too large; scale it down") from exc
    except Exception as exc:  # any decoder failure is the same refusal
        raise Refused("not an image that can be read; attach a PNG, JPEG, WebP or GIF") from exc
    target = _new_file(folder, ".jpg" if jpeg else ".png")
    try:
        if jpeg:
            pixels.save(target, "JPEG", quality=92)
        else:
            pixels.save(target, "PNG")
    except OSError as exc:
        target.unlink(missing_ok=True)
        log.warning("cannot keep image %s: %s", path, exc)
        raise Refused("it could not be stored; try again") from exc
    return target


def read_upload(path: Path, settings: Settings) -> bytes:
    """The bytes of an uploaded document, at most `settings.server.max_upload_bytes` of them."""
    try:
        with path.open("rb") as upload:
            data = upload.read(settings.server.max_upload_bytes + 1)
    except OSError as exc:
        log.warning("cannot read upload %s: %s", path, exc)
        raise Refused(f"it could not be read ({exc.strerror or type(exc).__name__})") from exc
    if len(data) > settings.server.max_upload_bytes:
        raise Refused(
            f"it is larger than {settings.server.max_upload_mb:g} MB (MEGREZ_MAX_UPLOAD_MB)"
        )
    return data


def keep_file(path: Path, folder: Path) -> Path:
    target = _new_file(folder, path.suffix.lower())
    try:
        shutil.copyfile(path, target)
    except OSError as exc:
        target.unlink(missing_ok=True)
        log.warning("cannot keep upload %s: %s", path, exc)
        raise Refused(f"it could not be read ({exc.strerror or type(exc).__name__})") from exc
    return target


def _new_file(folder: Path, suffix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}{suffix}"


def discard_upload(path: Path) -> None:
    """Delete Gradio's copy of an upload (kept or refused, it is not needed again); files
    elsewhere (a caller's own) are left alone."""
    from gradio.utils import get_upload_folder, is_in_or_equal

    try:
        if is_in_or_equal(path, get_upload_folder()) and path.is_file():
            path.unlink()
    except OSError as exc:
        log.warning("cannot delete upload %s: %s", path, exc)
