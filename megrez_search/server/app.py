"""An OpenAI-compatible API of the agent (`megrez-search serve`), so any OpenAI client can ask.

    GET  /v1/models             -> megrez-search, megrez-search-nosearch, megrez-search-deep
    POST /v1/chat/completions   -> one agent turn; `"stream": true` for server-sent events

Extensions, all optional (pass them with the client's `extra_body`):
- request `search` (bool): web search on/off; overrides the model alias, where
  `megrez-search` searches and `megrez-search-nosearch` never does;
- request `deep` (bool): deep mode (sub-questions researched in rounds, an answer with
  sections); the alias `megrez-search-deep` turns it on. A deep stream also carries its
  progress: chunks with an empty delta and a `megrez_event` object (`type` plan, research,
  note or reflect; see agent/events.py);
- request `provider` (str): the search provider chain for this request, e.g. `local:pydocs`;
- request `pages` (int, 1-20): pages to read for this question (default `MEGREZ_PAGES`);
- request `thread_id` (str): continue a conversation kept on the server (otherwise each
  request is stateless like OpenAI's: the `messages` are the history, nothing is kept);
- response `sources`: `[{n, url, title}]`, the numbered sources that `[N]` in the text cites;
  in a stream they come in the last chunk that has a choice (the one with `finish_reason`);
- response `megrez`: searched, queries, citations, transcript, image_text, thread_id,
  timings, failures, error (the agent's `AskResult`).

A streamed answer is the model's text as it is written; the citation check that runs after
it may drop unsupported `[N]`; the checked text is `megrez.answer` of the last chunk (and the
`content` of a non-streamed response).
Images and audio come as OpenAI content parts (`image_url` with a data: URL, `input_audio`).
Errors use OpenAI's shape `{"error": {"message", "type", "code"}}`: 400 for a request that
cannot run (empty question, bad provider, remote image URL), 404 for an unknown model, 413
for a body over `MEGREZ_MAX_UPLOAD_MB` (25 MB), 502 when the model failed before writing
anything.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from megrez_search.agent.api import AskRequest, SearchAgent
from megrez_search.agent.events import (
    RESEARCH_EVENTS,
    AgentEvent,
    AnswerEvent,
    DoneEvent,
    TokenEvent,
)
from megrez_search.agent.result import AskResult
from megrez_search.errors import MegrezSearchError
from megrez_search.runtime import Message
from megrez_search.server.body_limit import BodySizeLimit
from megrez_search.settings import Settings

log = logging.getLogger(__name__)

MODEL_SEARCH = "megrez-search"
MODEL_NOSEARCH = "megrez-search-nosearch"
MODEL_DEEP = "megrez-search-deep"
MODELS = {MODEL_SEARCH: True, MODEL_NOSEARCH: False, MODEL_DEEP: True}  # alias -> search on
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
    deep: bool | None = None
    provider: str | None = None
    pages: int | None = None
    thread_id: str | None = None


def _error(message: str, status: int, code: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code}}, status_code=status
    )


# --- request -> agent -----------------------------------------------------------------------


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
            f"unknown model {body.model!r}: use {MODEL_SEARCH!r}, {MODEL_NOSEARCH!r} "
            f"or {MODEL_DEEP!r}",
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
        pages=body.pages,
        deep=body.model == MODEL_DEEP if body.deep is None else body.deep,
        image=image,
        audio=audio,
        history=history,
    )


# --- agent result -> response ----------------------------------------------------------------


def _extras(result: AskResult) -> dict[str, Any]:
    data = result.to_json()
    megrez = {
        key: data[key]
        for key in (
            "answer",
            "searched",
            "queries",
            "citations",
            "thread_id",
            "timings",
            "failures",
            "error",
            "stopped",
            "provider",
            "research",
        )
    }
    megrez.update(data["input"])
    return {"sources": data["sources"], "megrez": megrez}


def _usage(result: AskResult) -> dict[str, int]:
    prompt, completion = result.tokens.get("prompt", 0), result.tokens.get("completion", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion_response(
    result: AskResult, model: str, completion_id: str, created: int
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(result),
        **_extras(result),
    }


def _chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    **extra: Any,
) -> str:
    data = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


# --- the app --------------------------------------------------------------------------------


class _Turns:
    """Runs agent turns in worker threads, at most `limit` at once (the rest wait their turn)."""

    def __init__(self, agent: SearchAgent, limit: int) -> None:
        self.agent = agent
        self._slots = threading.BoundedSemaphore(max(1, limit))

    def events(self, request: AskRequest, cancel: threading.Event) -> Iterator[AgentEvent]:
        with self._slots:
            yield from self.agent.stream(request, cancel=cancel)

    async def stream(self, request: AskRequest) -> AsyncIterator[AgentEvent]:
        """The turn's events in the event loop; leaving early stops the answer."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()
        end = object()

        def work() -> None:
            try:
                for event in self.events(request, cancel):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except BaseException as exc:  # noqa: BLE001 - handed to the event loop
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, end)

        threading.Thread(target=work, name="api-turn", daemon=True).start()
        try:
            while (item := await queue.get()) is not end:
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            cancel.set()


def create_api(agent: SearchAgent, settings: Settings) -> FastAPI:
    """The FastAPI app over `agent`; `serve_api` runs it with uvicorn."""
    app = FastAPI(title="Megrez Search API", version="1")
    app.add_middleware(BodySizeLimit, limit=settings.max_upload_bytes)
    turns = _Turns(agent, settings.ui_concurrency)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return _error(str(exc.detail), exc.status_code, code)

    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return _error(str(exc), exc.status, exc.code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error(
            f"invalid request: {where}: {first.get('msg', 'bad value')}", 400, "invalid_request"
        )

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": created, "owned_by": "megrez-search"}
                for name in MODELS
            ],
        }

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatRequest) -> JSONResponse | StreamingResponse:
        stack = ExitStack()
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="megrez-api-")))
        keep_thread = body.thread_id is not None

        def cleanup(thread_id: str | None) -> None:
            stack.close()
            if thread_id and not keep_thread:  # a stateless request leaves no conversation
                try:
                    agent.delete_thread(thread_id)
                except Exception:
                    log.warning("could not delete API thread %s", thread_id, exc_info=True)

        try:
            request = to_ask_request(body, folder)
            request.thread_id = request.thread_id or f"api-{uuid.uuid4().hex}"
            events = turns.stream(request)
            # The agent checks the request (empty question, unknown provider) before it
            # runs anything: such errors are a 400, not a broken stream.
            first = await anext(events)
        except MegrezSearchError as exc:
            cleanup(None)
            if isinstance(exc, APIError):
                raise
            raise APIError(str(exc)) from exc
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        done = partial(cleanup, request.thread_id)

        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                _stream(
                    _chain(first, events), body.model, completion_id, created, include_usage, done
                ),
                media_type="text/event-stream",
            )
        result: AskResult | None = None
        try:
            async for event in _chain(first, events):
                if isinstance(event, DoneEvent):
                    result = event.result
        finally:
            await asyncio.to_thread(done)
        if result is None:  # pragma: no cover - the agent always ends with a DoneEvent
            return _error("the agent ended without a result", 500, "internal_error")
        if result.error and not result.answer.strip():
            return _error(f"the model failed: {result.error}", 502, "model_error")
        return JSONResponse(completion_response(result, body.model, completion_id, created))

    return app


async def _chain(first: AgentEvent, rest: AsyncIterator[AgentEvent]) -> AsyncIterator[AgentEvent]:
    yield first
    try:
        async for event in rest:
            yield event
    finally:
        await rest.aclose()  # type: ignore[attr-defined]


async def _stream(
    events: AsyncIterator[AgentEvent],
    model: str,
    completion_id: str,
    created: int,
    include_usage: bool,
    cleanup: Callable[[], None],
) -> AsyncIterator[str]:
    streamed = ""
    checked: str | None = None
    try:
        yield _chunk(completion_id, created, model, {"role": "assistant", "content": ""})
        async for event in events:
            if isinstance(event, TokenEvent) and event.text:
                streamed += event.text
                yield _chunk(completion_id, created, model, {"content": event.text})
            elif isinstance(event, RESEARCH_EVENTS):
                yield _chunk(completion_id, created, model, {}, megrez_event=event.to_json())
            elif isinstance(event, AnswerEvent):
                checked = event.answer
            elif isinstance(event, DoneEvent):
                result = event.result
                final = checked if checked is not None else result.answer
                # An answer that was not streamed token by token (or grew in the check) is
                # sent as the rest of the text so that the content adds up to the answer.
                rest = final[len(streamed) :] if final.startswith(streamed) else ""
                if result.error and not final.strip():
                    rest = f"(the model failed: {result.error})"
                delta: dict[str, Any] = {"content": rest} if rest else {}
                yield _chunk(completion_id, created, model, delta, "stop", **_extras(result))
                if include_usage:
                    yield (
                        "data: "
                        + json.dumps(
                            {
                                "id": completion_id,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": model,
                                "choices": [],
                                "usage": _usage(result),
                            }
                        )
                        + "\n\n"
                    )
        yield "data: [DONE]\n\n"
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        await asyncio.to_thread(cleanup)


def serve_api(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    agent: SearchAgent | None = None,
) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    app = create_api(agent or SearchAgent(settings), settings)
    uvicorn.run(
        app, host=host or settings.host, port=port or settings.api_port, log_level="warning"
    )
