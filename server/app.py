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
- request `provider` (str): the search provider chain for this request, picked among the
  operator's entries (`MEGREZ_SEARCH`, `MEGREZ_SEARCH_CHOICES`), e.g. `local:pydocs`;
- request `pages` (int, 1-20): pages to read for this question (default `MEGREZ_PAGES`);
- request `memory_fallback` (bool): when a search fails, answer from memory labelled as
  unsourced instead of only saying what failed (default `MEGREZ_MEMORY_FALLBACK`);
- request `thread_id` (str): continue a conversation kept on the server (otherwise each
  request is stateless like OpenAI's: the `messages` are the history, nothing is kept);
- request `collections` (list of str): the caller's collections of files to search too
  (omitted: a continued conversation keeps its last ones); an unknown one is a 400;
- response `sources`: `[{n, url, title, snippet, site?}]`, the numbered sources that `[N]`
  cites (`site`: the site's name, when the page's title gave one; a file's also `doc_id`,
  `file_name` and `page`, its url `doc:<doc_id>#page=<n>`); a stream sends them twice: as
  soon as the passages are chosen, before the first word (a chunk with an empty delta,
  `sources` and a `megrez_event` of type `sources`), and in the last chunk that has a choice
  (the one with `finish_reason`);
- response `megrez`: searched, queries, citations, transcript, image_text, thread_id,
  timings, failures, error (the agent's `AskResult`).

A streamed answer is the model's text as it is written; the citation check that runs after
it may drop unsupported `[N]`; the checked text is `megrez.answer` of the last chunk (and the
`content` of a non-streamed response).
Images, audio and files come as OpenAI content parts (`image_url` with a data: URL,
`input_audio`, `file` with `file_data` and `filename`); files are read and indexed for the
conversation (a stateless request's for that request only), see `server/documents.py`.
Errors use OpenAI's shape `{"error": {"message", "type", "code"}}`: 400 for a request that
cannot run (malformed JSON or content parts, lone surrogates or NULs, empty question,
provider not offered, remote image URL, unreadable upload, no speech in the audio), 404 for
an unknown model, 401 for a missing, wrong or revoked API key once accounts exist
(`server/access.py`), 429 over a user's limits, 409 while another process writes the same
`thread_id`, 413 for a body over `MEGREZ_MAX_UPLOAD_MB` (25 MB), 502 when the model failed
before writing anything. No message names a server path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.api import SearchAgent, ThreadBusyError
from agent.events import (
    RESEARCH_EVENTS,
    AgentEvent,
    AnswerEvent,
    DoneEvent,
    ErrorEvent,
    PrefillEvent,
    SourcesEvent,
    TokenEvent,
)
from agent.result import AskResult
from core.errors import MegrezSearchError
from core.settings import Settings
from server.access import AccessDenied, Gate, denied_response
from server.body_limit import BodySizeLimit
from server.chat_response import chunk, completion_response, extras, usage
from server.documents import index_uploads, remove_documents
from server.requests import (
    MODELS,
    APIError,
    ChatRequest,
    check_attachments,
    collection_names,
    to_ask_request,
    uploaded_files,
)
from wiring import search_agent

log = logging.getLogger(__name__)


def _error(message: str, status: int, code: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code}}, status_code=status
    )


# --- the app --------------------------------------------------------------------------------


def create_api(agent: SearchAgent, settings: Settings) -> FastAPI:
    """The FastAPI app over `agent`; `serve_api` runs it with uvicorn."""
    app = FastAPI(title="Megrez Search API", version="1")
    app.add_middleware(BodySizeLimit, limit=settings.server.max_upload_bytes)
    # At most this many turns run at once; the rest wait for a slot.
    slots = threading.BoundedSemaphore(max(1, settings.server.ui_concurrency))
    gate = Gate.of(agent.store, settings)

    @app.exception_handler(AccessDenied)
    async def access_denied(_: Request, exc: AccessDenied) -> JSONResponse:
        return denied_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return _error(str(exc.detail), exc.status_code, code)

    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return _error(str(exc), exc.status, exc.code)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        # A bug must still answer in OpenAI's shape, and without its details (paths, values):
        # the traceback goes to the server log.
        log.error("request failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
        return _error("internal error; the server log has the details", 500, "internal_error")

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error(
            f"invalid request: {where}: {first.get('msg', 'bad value')}", 400, "invalid_request"
        )

    @app.get("/v1/models")
    async def list_models(_: str = Depends(gate.user)) -> dict[str, Any]:
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
    async def chat_completions(
        body: ChatRequest, user: str = Depends(gate.user)
    ) -> JSONResponse | StreamingResponse:
        slot = gate.slot(user)
        stack = ExitStack()
        stack.callback(slot.release)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="megrez-api-")))

        def scrub(message: str) -> str:
            """A message for the client: the upload folder is the server's business."""
            return message.replace(f"{folder}/", "").replace(str(folder), "upload")

        undo = ExitStack()  # what a refused request must not leave behind
        try:
            try:
                request = to_ask_request(body, folder)
                request.user = user
                files = uploaded_files(body)
                if body.collections is not None:  # None: the conversation's last ones
                    request.collections = collection_names(body)
                    await asyncio.to_thread(
                        agent.documents.check_collections, user, request.collections
                    )
                if files:
                    if request.thread_id is None:  # a stateless turn: its files go with it
                        request.thread_id = uuid.uuid4().hex
                        stack.callback(agent.documents.remove_chat, user, request.thread_id)
                    added = await asyncio.to_thread(
                        index_uploads, agent.documents, settings, user, request.thread_id, files
                    )
                    undo.callback(remove_documents, agent.documents, user, added)
                await asyncio.to_thread(check_attachments, request, settings)
                events = agent.astream(request, slots=slots)
                # The agent checks the request (empty question, unknown provider) before it
                # runs anything: such errors are a 400, not a broken stream.
                first = await anext(events)
            except BaseException:
                await asyncio.to_thread(undo.close)
                raise
        except ThreadBusyError as exc:
            stack.close()
            raise APIError(str(exc), status=409, code="thread_busy") from exc
        except MegrezSearchError as exc:
            stack.close()
            if isinstance(exc, APIError):
                raise
            raise APIError(scrub(str(exc))) from exc
        except BaseException:
            stack.close()  # frees the user's turn slot whatever went wrong
            raise
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())

        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                _stream(
                    _chain(first, events),
                    body.model,
                    completion_id,
                    created,
                    include_usage,
                    stack.close,
                    scrub,
                ),
                media_type="text/event-stream",
            )
        result: AskResult | None = None
        input_error: str | None = None
        try:
            async for event in _chain(first, events):
                if isinstance(event, ErrorEvent) and event.step == "perceive":
                    input_error = event.message  # the client's audio or image, not the model
                elif isinstance(event, DoneEvent):
                    result = event.result
        finally:
            await asyncio.to_thread(stack.close)
        if result is None:  # pragma: no cover - the agent always ends with a DoneEvent
            return _error("the agent ended without a result", 500, "internal_error")
        if input_error and not result.answer.strip():
            return _error(scrub(input_error), 400, "invalid_input")
        if result.error and not result.answer.strip():
            return _error(f"the model failed: {scrub(result.error)}", 502, "model_error")
        return JSONResponse(completion_response(result, body.model, completion_id, created, scrub))

    return app


async def _chain(
    first: AgentEvent, rest: AsyncGenerator[AgentEvent, None]
) -> AsyncGenerator[AgentEvent, None]:
    yield first
    try:
        async for event in rest:
            yield event
    finally:
        await rest.aclose()


async def _stream(
    events: AsyncGenerator[AgentEvent, None],
    model: str,
    completion_id: str,
    created: int,
    include_usage: bool,
    cleanup: Callable[[], None],
    scrub: Callable[[str], str],
) -> AsyncIterator[str]:
    streamed = ""
    checked: str | None = None
    try:
        yield chunk(completion_id, created, model, {"role": "assistant", "content": ""})
        async for event in events:
            if isinstance(event, TokenEvent) and event.text:
                streamed += event.text
                yield chunk(completion_id, created, model, {"content": event.text})
            elif isinstance(event, SourcesEvent):
                # The sources as soon as the passages are chosen, before the first word:
                # a client shows its source cards while the model reads.
                sources = [dict(source) for source in event.sources]
                yield chunk(
                    completion_id,
                    created,
                    model,
                    {},
                    sources=sources,
                    megrez_event=event.to_json(),
                )
            elif isinstance(event, (*RESEARCH_EVENTS, PrefillEvent)):
                # Progress a client may show (deep research, the model reading its sources);
                # the text of the answer is only ever in `content`.
                yield chunk(completion_id, created, model, {}, megrez_event=event.to_json())
            elif isinstance(event, AnswerEvent):
                checked = event.answer
            elif isinstance(event, DoneEvent):
                result = event.result
                final = checked if checked is not None else result.answer
                # An answer that was not streamed token by token (or grew in the check) is
                # sent as the rest of the text so that the content adds up to the answer.
                rest = final[len(streamed) :] if final.startswith(streamed) else ""
                if result.error and not final.strip():
                    rest = f"(no answer: {scrub(result.error)})"
                delta: dict[str, Any] = {"content": rest} if rest else {}
                yield chunk(completion_id, created, model, delta, "stop", **extras(result, scrub))
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
                                "usage": usage(result),
                            }
                        )
                        + "\n\n"
                    )
        yield "data: [DONE]\n\n"
    finally:
        # First, and without awaiting: a client that left cancels this generator at its
        # next await, and the upload folder must not outlive the request.
        cleanup()
        await events.aclose()


def serve_api(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    agent: SearchAgent | None = None,
) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    app = create_api(agent or search_agent(settings), settings)
    uvicorn.run(
        app,
        host=host or settings.server.host,
        port=port or settings.server.api_port,
        log_level="warning",
    )
