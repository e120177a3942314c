"""OpenAI chat requests into agent requests: the accepted fields, messages, attachments."""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from megrez_search.agent.api import AskRequest
from megrez_search.errors import MegrezSearchError
from megrez_search.runtime import Message

log = logging.getLogger(__name__)

MODEL_SEARCH = "megrez-search"
MODEL_NOSEARCH = "megrez-search-nosearch"
MODELS = {MODEL_SEARCH: True, MODEL_NOSEARCH: False}  # alias -> search on
_IMAGE_SUFFIX = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}


class APIError(MegrezSearchError):
    """A request the API cannot serve; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat request that mean something here; others are accepted."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_SEARCH
    messages: list[ChatMessageIn]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = None
    # Megrez Search extensions
    search: bool | None = None
    provider: str | None = None
    pages: int | None = None
    thread_id: str | None = None


def _text_of(content: str | list[dict[str, Any]] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "\n".join(
        str(part.get("text", "")) for part in content if part.get("type") == "text"
    ).strip()


def _decode(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise APIError(f"the {what} is not valid base64") from exc


def _attachments(
    content: str | list[dict[str, Any]] | None, folder: Path
) -> tuple[Path | None, Path | None]:
    """The image and audio parts of the last user message, written to files for the agent."""
    image: Path | None = None
    audio: Path | None = None
    for part in content if isinstance(content, list) else []:
        kind = part.get("type")
        if kind == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            header, _, data = url.partition(",")
            if not header.startswith("data:") or ";base64" not in header:
                # Fetching a client-given URL from here would be a request forgery hole.
                raise APIError("images must be sent inline as data: URLs (base64)")
            mime = header[5:].split(";")[0].lower()
            image = folder / f"image{_IMAGE_SUFFIX.get(mime, '.png')}"
            image.write_bytes(_decode(data, "image"))
        elif kind == "input_audio":
            spec = part.get("input_audio") or {}
            audio_format = (
                "".join(ch for ch in str(spec.get("format", "wav")) if ch.isalnum()) or "wav"
            )
            audio = folder / f"audio.{audio_format}"
            audio.write_bytes(_decode(str(spec.get("data", "")), "audio"))
    return image, audio


def to_ask_request(body: ChatRequest, folder: Path) -> AskRequest:
    """The agent request for an OpenAI chat request: the last user message is the question."""
    if body.model not in MODELS:
        raise APIError(
            f"unknown model {body.model!r}: use {MODEL_SEARCH!r} or {MODEL_NOSEARCH!r}",
            status=404,
            code="model_not_found",
        )
    if not body.messages or body.messages[-1].role != "user":
        raise APIError("the last message must be the user's question")
    last = body.messages[-1]
    image, audio = _attachments(last.content, folder)
    history = [
        Message(message.role, _text_of(message.content))  # type: ignore[arg-type]
        for message in body.messages[:-1]
        if message.role in {"user", "assistant"} and _text_of(message.content)
    ]
    return AskRequest(
        question=_text_of(last.content),
        thread_id=body.thread_id,
        search=MODELS[body.model] if body.search is None else body.search,
        provider=body.provider,
        max_pages=body.pages,
        image=image,
        audio=audio,
        history=history,
    )
