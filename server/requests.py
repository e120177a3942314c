"""OpenAI chat requests -> agent requests: the typed request, its content parts, attachments.

Everything a client sends is checked here, before the agent runs: fields have their exact
JSON types (no coercion), content parts have OpenAI's shapes (`image_url` and `input_audio`
are objects), text is valid Unicode without NULs, and attachments are readable images or
audio. Each failure is an `APIError` (a 4xx in OpenAI's error shape) whose message names no
server path.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.api import AskRequest
from core.errors import MegrezSearchError
from core.settings import Settings
from retrieval.documents.names import checked_name
from retrieval.errors import DocumentNameError
from runtime import Message
from runtime.perception import describe_image, probe_audio
from store.text import unstorable_reason

MODEL_SEARCH = "megrez-search"
MODEL_NOSEARCH = "megrez-search-nosearch"
MODEL_DEEP = "megrez-search-deep"
MODELS = {MODEL_SEARCH: True, MODEL_NOSEARCH: False, MODEL_DEEP: True}  # alias -> search on
MAX_THREAD_ID = 200  # characters; ids are keys, not documents
MAX_COLLECTION = 64  # characters, as the store allows
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


#: Strict: a wrong type is the client's error (400), never coerced ("yes" is no boolean, `true`
#: no page count); unknown fields are accepted, as OpenAI's clients send their own.
_STRICT = ConfigDict(extra="allow", strict=True)


class _Part(BaseModel):
    model_config = _STRICT


class TextPart(_Part):
    type: Literal["text"]
    text: str


class ImageURL(_Part):
    url: str


class ImagePart(_Part):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(_Part):
    data: str
    format: str = "wav"


class AudioPart(_Part):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FileData(_Part):
    file_data: str | None = None  # a data: URL (what the openai client sends) or bare base64
    filename: str | None = None
    file_id: str | None = None  # OpenAI's Files API: nothing is stored to refer to here


class FilePart(_Part):
    type: Literal["file"]
    file: FileData


ContentPart = Annotated[TextPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")]


class ChatMessageIn(BaseModel):
    model_config = _STRICT
    role: str
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat request that mean something here; others are accepted."""

    model_config = _STRICT
    model: str = MODEL_SEARCH
    messages: list[ChatMessageIn]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = None
    # Megrez Search extensions
    search: bool | None = None
    deep: bool | None = None
    provider: str | None = None
    pages: int | None = None
    memory_fallback: bool | None = None
    thread_id: str | None = None
    collections: list[str] | None = None  # the user's collections to search, by name


@dataclass(frozen=True)
class UploadedFile:
    """A document sent inline in a `file` content part, to read and index for the turn."""

    filename: str
    data: bytes


def clean_text(text: str, what: str) -> str:
    """`text` if it can be stored and shown; an `APIError` for lone surrogates and NULs."""
    reason = unstorable_reason(text)
    if reason is not None:
        raise APIError(f"the {what} {reason}")
    return text


def _text_of(content: str | list[ContentPart] | None, what: str) -> str:
    if content is None or isinstance(content, str):
        return clean_text(content or "", what)
    texts = [part.text for part in content if isinstance(part, TextPart)]
    return clean_text("\n".join(texts).strip(), what)


def _decode(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise APIError(f"the {what} is not valid base64") from exc


def _attachments(
    content: str | list[ContentPart] | None, folder: Path
) -> tuple[Path | None, Path | None]:
    """The image and audio parts of the last user message, written to files for the agent."""
    image: Path | None = None
    audio: Path | None = None
    for part in content if isinstance(content, list) else []:
        if isinstance(part, ImagePart):
            header, _, data = part.image_url.url.partition(",")
            if not header.startswith("data:") or ";base64" not in header:
                # Fetching a client-given URL from here would be a request forgery hole.
                raise APIError("images must be sent inline as data: URLs (base64)")
            mime = header[5:].split(";")[0].lower()
            image = folder / f"image{_IMAGE_SUFFIX.get(mime, '.png')}"
            image.write_bytes(_decode(data, "image"))
        elif isinstance(part, AudioPart):
            audio_format = "".join(ch for ch in part.input_audio.format if ch.isalnum()) or "wav"
            audio = folder / f"audio.{audio_format[:8]}"
            audio.write_bytes(_decode(part.input_audio.data, "audio"))
    return image, audio


def uploaded_files(body: ChatRequest) -> list[UploadedFile]:
    """The `file` parts of the last user message, decoded; an `APIError` for a part that is
    not a named, inline file."""
    content = body.messages[-1].content if body.messages else None
    files = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, FilePart):
            continue
        if part.file.file_data is None:
            raise APIError("files must be sent inline as file_data (base64); file_id is unknown")
        name = plain_filename(part.file.filename)
        header, comma, data = part.file.file_data.partition(",")
        if comma and not (header.startswith("data:") and ";base64" in header):
            raise APIError(f"the file {name} must be a base64 data: URL")
        files.append(UploadedFile(name, _decode(data if comma else header, f"file {name}")))
    return files


def plain_filename(name: str | None) -> str:
    """`name` if it is a plain file name (what a source card shows); an `APIError` for a
    missing name, a path or control characters."""
    if name is None:
        raise APIError("each file needs a filename (file.filename)")
    try:
        return checked_name(name)
    except DocumentNameError as exc:
        raise APIError(str(exc), code="invalid_file") from exc


def collection_names(body: ChatRequest) -> list[str]:
    """The collections asked for in `collections`, each named once."""
    names: list[str] = []
    for name in body.collections or []:
        clean_text(name, "collection name")
        if not name.strip() or len(name) > MAX_COLLECTION:
            raise APIError(f"collection names must be 1 to {MAX_COLLECTION} characters")
        if name.strip() not in names:
            names.append(name.strip())
    return names


def to_ask_request(body: ChatRequest, folder: Path) -> AskRequest:
    """The agent request for an OpenAI chat request: the last user message is the question.

    Without `thread_id` the turn is stateless (`keep=False`): nothing of it is stored.
    """
    if body.model not in MODELS:
        raise APIError(
            f"unknown model {body.model!r}: use {MODEL_SEARCH!r}, {MODEL_NOSEARCH!r} "
            f"or {MODEL_DEEP!r}",
            status=404,
            code="model_not_found",
        )
    if not body.messages or body.messages[-1].role != "user":
        raise APIError("the last message must be the user's question")
    if body.thread_id is not None:
        clean_text(body.thread_id, "thread_id")
        if not body.thread_id.strip() or len(body.thread_id) > MAX_THREAD_ID:
            raise APIError(f"thread_id must be 1 to {MAX_THREAD_ID} characters")
    if body.provider is not None:
        clean_text(body.provider, "provider")
    last = body.messages[-1]
    image, audio = _attachments(last.content, folder)
    history = []
    for index, message in enumerate(body.messages[:-1]):
        text = _text_of(message.content, f"content of message {index}")
        if message.role in {"user", "assistant"} and text:
            history.append(Message(message.role, text))  # type: ignore[arg-type]
    return AskRequest(
        question=_text_of(last.content, "question"),
        thread_id=body.thread_id,
        search=MODELS[body.model] if body.search is None else body.search,
        provider=body.provider,
        max_pages=body.pages,
        memory_fallback=body.memory_fallback,
        deep=body.model == MODEL_DEEP if body.deep is None else body.deep,
        image=image,
        audio=audio,
        history=history,
        keep=body.thread_id is not None,
    )


def check_attachments(request: AskRequest, settings: Settings) -> None:
    """Refuse unreadable uploads as the client's error (400), before any model runs.

    Raises `MegrezSearchError` (perception's `InputError`); the caller removes paths.
    """
    if request.image is not None:
        describe_image(request.image)
    if request.audio is not None:
        probe_audio(request.audio, settings.runtime)
