"""perceive: voice and images into text the rest of the agent can use; records the question."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from langgraph.types import StreamWriter

from agent.deps import AgentDeps
from agent.events import ErrorEvent, PerceptionEvent
from agent.state import AgentState, Turn
from core.errors import MegrezSearchError
from runtime import Message

from .common import step

log = logging.getLogger(__name__)

NO_SPEECH = "no speech found in the audio: record the question again, or type it"


def _nothing_asked(state: AgentState, transcript: str | None) -> bool:
    return (
        bool(state.audio)
        and not (transcript or "").strip()
        and not state.question.strip()
        and not state.image
    )


def _label(state: AgentState) -> str | None:
    if state.audio and state.image:
        return "Listening to your voice question and reading the image"
    if state.audio:
        return "Listening to your voice question"
    if state.image:
        return "Reading the image"
    return None


@step("perceive", _label)
def perceive(state: AgentState, writer: StreamWriter, deps: AgentDeps) -> dict[str, Any]:
    """Transcribe / read the attachments and append the user's turn to the conversation."""
    turn: Turn = {
        "role": "user",
        "content": state.question,
        "model_text": state.question,
        "image": state.image,
        "audio": state.audio,
        "at": deps.clock().isoformat(timespec="seconds"),
    }
    if state.file_names:
        turn["file_names"] = list(state.file_names)
    message = Message(
        "user",
        state.question,
        image=Path(state.image) if state.image else None,
        audio=Path(state.audio) if state.audio else None,
    )
    try:
        ingested, perception = deps.runtime.ingest(message)
    except MegrezSearchError as exc:
        # Bad input ends the turn with its message; the question is still recorded.
        log.warning("perception failed: %s", exc)
        writer(ErrorEvent(message=str(exc), step="perceive", fatal=True))
        return {"turns": [turn], "error": str(exc), "user_text": state.question}
    if _nothing_asked(state, perception.transcript):
        # A silent clip and no text: nothing to answer, and a model asked anyway would
        # invent a question ("Today is ..."). Say so at once.
        log.info("no speech found in %s", state.audio)
        turn["transcript"] = ""
        writer(ErrorEvent(message=NO_SPEECH, step="perceive", fatal=True))
        return {"turns": [turn], "error": NO_SPEECH, "user_text": "", "transcript": ""}
    turn.update(
        {
            "model_text": ingested.content,
            "transcript": perception.transcript,
            "image_text": perception.image_text,
            "native_media": ingested.image is not None or ingested.audio is not None,
        }
    )
    if perception.ran:
        writer(PerceptionEvent(transcript=perception.transcript, image_text=perception.image_text))
    return {
        "turns": [turn],
        "files": deps.has_files(state.owner, state.chat_id, state.collections),
        "user_text": ingested.content,
        "transcript": perception.transcript,
        "image_text": perception.image_text,
    }
