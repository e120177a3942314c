"""A voice question is heard before it is asked: the recording is transcribed into the
message box, where the user reads, edits and sends it (Enter, or one tap on send). Whisper
mishears ("the default I'm with, on text wrap wrap"); a question searched on unseen words
is answered wrongly, so the words are shown first. The chat is then titled from them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import MegrezSearchError
from core.settings import Settings
from runtime.perception import transcribe
from ui.attachments import discard_upload, kind_of
from ui.conversation import without_paths

log = logging.getLogger(__name__)

TRANSCRIBING = "Transcribing your recording…"
CHECK_TRANSCRIPT = "Check the transcript in the message box, edit it if needed, and send it."
NOTHING_HEARD = "⚠ No speech was heard in the recording: record it again or type the question."


@dataclass(frozen=True)
class Review:
    """The message box to show (the transcript, any image still attached) and the status."""

    box: dict[str, Any]
    status: str


def awaits_transcript(box: dict[str, Any]) -> bool:
    """A recording with no typed words: it is transcribed for review, not asked."""
    return not str(box.get("text") or "").strip() and any(
        kind_of(_path(item)) == "audio" for item in box.get("files") or []
    )


def review_voice(box: dict[str, Any], settings: Settings) -> Iterator[Review | str]:
    """The status while transcribing, then the `Review` of the recording in `box`."""
    files = list(box.get("files") or [])
    recordings = [item for item in files if kind_of(_path(item)) == "audio"]
    kept = [_path_text(item) for item in files if item not in recordings]
    yield TRANSCRIBING
    try:
        text = transcribe(_path(recordings[0]), settings)
    except MegrezSearchError as exc:
        log.info("recording not transcribed: %s", exc)
        text, status = "", f"⚠ {without_paths(str(exc))}"
    except Exception as exc:  # the recording is lost; the page stays usable
        log.exception("transcribing failed")
        text, status = "", f"⚠ The recording could not be transcribed ({type(exc).__name__})."
    else:
        status = CHECK_TRANSCRIPT if text else NOTHING_HEARD
    finally:
        for item in recordings:
            discard_upload(_path(item))
    yield Review({"text": text, "files": kept}, status)


def _path(item: Any) -> Path:
    return Path(item["path"] if isinstance(item, dict) else getattr(item, "path", item))


def _path_text(item: Any) -> str:
    return str(_path(item))
