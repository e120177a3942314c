"""What a turn is asked to do (`AskRequest`), and the checks it must pass before it runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.deps import AgentDeps
from core.errors import MegrezSearchError
from core.settings import MAX_PAGES
from runtime import Message
from store import LOCAL_USER, thread_key
from store.text import UnstorableTextError, check_storable


class AgentInputError(MegrezSearchError):
    """The request cannot be run as given (empty question, missing attachment file)."""


@dataclass
class AskRequest:
    question: str
    thread_id: str | None = None  # None starts a new conversation
    search: bool = True  # the web-search toggle: False never searches
    provider: str | None = None  # search provider chain; None = settings.retrieval.search
    max_pages: int | None = None  # pages to read for this question; None = settings.retrieval.pages
    # When a search fails: answer from the model's memory, labelled as unsourced (True), or
    # only say what failed (False); None = settings.agent.memory_fallback.
    memory_fallback: bool | None = None
    deep: bool = False  # deep mode: research in rounds of sub-questions (with search on)
    file_names: Sequence[str] = ()  # files attached with this question, recorded with it
    collections: Sequence[str] | None = None  # files' collections; None: the last turn's
    image: Path | None = None
    audio: Path | None = None
    # Earlier turns to start a *new* thread with (e.g. evaluation questions with history).
    history: Sequence[Message] = ()
    user: str = LOCAL_USER  # whose conversation this is (see store.threads)
    model: str | None = None  # one of the configured model specs; None = MEGREZ_MODEL
    # False: a stateless turn (the API without thread_id): it runs on an in-memory
    # checkpointer and is forgotten when it ends, however it ends; nothing reaches the store.
    keep: bool = True


def validate_request(request: AskRequest, deps: AgentDeps) -> None:
    """Raise `AgentInputError` (or a clear store/provider error) before anything runs."""
    for what, text in (
        ("question", request.question),
        ("thread id", request.thread_id),
        ("provider", request.provider),
        *(("earlier message", message.content) for message in request.history),
    ):
        try:
            check_storable(text or "", what)
        except UnstorableTextError as exc:
            raise AgentInputError(str(exc)) from None
    if not request.question.strip() and request.image is None and request.audio is None:
        raise AgentInputError("the question is empty: type a question or attach an image or audio")
    for kind, path in (("image", request.image), ("audio", request.audio)):
        if path is not None and not Path(path).is_file():
            raise AgentInputError(f"{kind} file not found: {path}")
    if request.thread_id is not None:
        thread_key(request.user, request.thread_id)  # a malformed id fails here, clearly
    if request.max_pages is not None and not 1 <= request.max_pages <= MAX_PAGES:
        raise AgentInputError(f"pages must be between 1 and {MAX_PAGES}, not {request.max_pages}")
    if request.search:
        deps.provider(request.provider)  # a bad provider spec fails here, clearly
    if deps.documents is not None:
        deps.documents.check_collections(request.user, request.collections or ())
