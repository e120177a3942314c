"""The agent's Python API, used by the CLI, the UI, the API server and the evaluation.

    agent = SearchAgent(settings)                  # builds the graph once
    for event in agent.stream(AskRequest("What is the default maxsize of lru_cache?")):
        ...                                        # StepEvent, TokenEvent, ..., DoneEvent
    result = agent.invoke(AskRequest("And its typed flag?", thread_id=result.thread_id))

Conversations live in LangGraph's SQLite checkpointer at `settings.conversations_path`,
keyed by thread id, so a restart loses nothing. One `SearchAgent` serves many threads at once
(the UI's users): turns of different threads run in parallel — the model backend serialises
its own calls, I/O-bound steps overlap — while turns of the same thread take turns.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from langgraph.checkpoint.sqlite import SqliteSaver
from megrez_search.agent.deps import AgentDeps
from megrez_search.agent.events import AgentEvent, DoneEvent, ErrorEvent, TokenEvent
from megrez_search.agent.graph import build_graph
from megrez_search.agent.result import AskResult
from megrez_search.agent.state import Turn, turn_input

from megrez_search.errors import MegrezSearchError
from megrez_search.runtime import Message, Runtime, load_runtime
from megrez_search.settings import MAX_PAGES, Settings

log = logging.getLogger(__name__)


class AgentInputError(MegrezSearchError):
    """The request cannot be run as given (empty question, missing attachment file)."""


@dataclass
class AskRequest:
    question: str
    thread_id: str | None = None  # None starts a new conversation
    search: bool = True  # the web-search toggle: False never searches
    provider: str | None = None  # search provider chain; None = settings.search
    pages: int | None = None  # pages to read for this question; None = settings.pages
    deep: bool = False  # deep mode: research in rounds of sub-questions (with search on)
    image: Path | None = None
    audio: Path | None = None
    # Earlier turns to start a *new* thread with (e.g. evaluation questions with history).
    history: Sequence[Message] = ()


@dataclass(frozen=True)
class ThreadInfo:
    thread_id: str
    title: str  # the first question
    created_at: str
    updated_at: str
    turns: int  # questions asked


class _ThreadIndex:
    """A small table of conversations beside the checkpoints, for the UI's past-chats list."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS megrez_threads (thread_id TEXT PRIMARY KEY, "
                "title TEXT, created_at TEXT, updated_at TEXT, turns INTEGER DEFAULT 0)"
            )

    def touch(self, thread_id: str, title: str, now: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO megrez_threads VALUES (?, ?, ?, ?, 1) ON CONFLICT(thread_id) DO "
                "UPDATE SET updated_at = excluded.updated_at, turns = turns + 1",
                (thread_id, title[:120], now, now),
            )

    def list(self) -> list[ThreadInfo]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT thread_id, title, created_at, updated_at, turns FROM megrez_threads "
                "ORDER BY updated_at DESC"
            ).fetchall()
        return [ThreadInfo(*row) for row in rows]

    def delete(self, thread_id: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM megrez_threads WHERE thread_id = ?", (thread_id,))

    def close(self) -> None:
        self._conn.close()


class SearchAgent:
    """The search agent: one compiled graph, one runtime, one conversation store."""

    def __init__(
        self,
        settings: Settings,
        runtime: Runtime | None = None,
        *,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.settings = settings
        self.runtime = runtime if runtime is not None else load_runtime(settings)
        self._deps = AgentDeps(self.runtime, settings, clock=clock)
        path = settings.conversations_path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False)
        # WAL lets readers (the UI's history, other processes) proceed during a commit, and
        # NORMAL sync keeps the many small checkpoint commits of concurrent turns cheap while
        # staying durable across application crashes.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._checkpointer = SqliteSaver(self._conn)
        # Set up now, before any other connection opens the file: switching it to WAL needs
        # the database to itself, and later readers and writers then never block each other.
        self._checkpointer.setup()
        self._threads = _ThreadIndex(path)
        self.graph = build_graph(self._deps).compile(checkpointer=self._checkpointer)
        self._locks: dict[str, threading.Lock] = {}
        self._running: dict[str, str] = {}  # thread id -> run id of its turn in progress
        self._guard = threading.Lock()

    # --- asking -------------------------------------------------------------------------------

    def stream(
        self, request: AskRequest, *, cancel: threading.Event | None = None
    ) -> Iterator[AgentEvent]:
        """Run one turn, yielding events as they happen; the last one is a `DoneEvent`.

        Raises `AgentInputError` (or a provider-spec error) before anything runs when the
        request is unusable. Failures while running end in an `ErrorEvent` and a result with
        `error` set; the conversation is recorded either way. Closing the iterator early
        (or setting `cancel`, or `SearchAgent.stop(thread_id)`) stops the answer and keeps
        what was written.
        """
        self._validate(request)  # here, not in the generator: bad requests fail at the call
        return self._turn(request, cancel)

    def _turn(self, request: AskRequest, cancel: threading.Event | None) -> Iterator[AgentEvent]:
        thread_id = request.thread_id or uuid.uuid4().hex
        run_id = uuid.uuid4().hex
        config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
        values = turn_input(
            question=request.question.strip(),
            image=str(request.image) if request.image else None,
            audio=str(request.audio) if request.audio else None,
            search=request.search,
            provider=request.provider,
            max_pages=request.pages,
            deep=request.deep,
            run_id=run_id,
        )
        with self._thread_lock(thread_id):
            if request.history and not self.turns(thread_id):
                values["turns"] = [_turn_of(message) for message in request.history]
            if cancel is not None:
                self._deps.cancel_event(run_id, cancel)
            with self._guard:
                self._running[thread_id] = run_id
            self._threads.touch(
                thread_id,
                request.question.strip() or "(voice or image question)",
                datetime.now().isoformat(timespec="microseconds"),
            )
            yield from self._run(values, config, thread_id, run_id)

    def _run(
        self, values: dict[str, Any], config: dict[str, Any], thread_id: str, run_id: str
    ) -> Iterator[AgentEvent]:
        started = time.perf_counter()
        ttft: float | None = None
        failure: str | None = None
        inner = self.graph.stream(values, config, stream_mode="custom")
        try:
            for event in inner:
                if isinstance(event, TokenEvent) and ttft is None:
                    ttft = time.perf_counter() - started
                yield event
        except GeneratorExit:
            # The caller stopped listening: stop the model, let the graph record the turn.
            self._deps.cancel_event(run_id).set()
            for _ in inner:
                pass
            raise
        except MegrezSearchError as exc:
            failure = str(exc)
            log.warning("turn failed: %s", exc)
        except Exception as exc:
            failure = f"internal error: {type(exc).__name__}: {exc}"
            log.exception("turn failed with an unexpected error")
        finally:
            self._deps.forget_run(run_id)
            with self._guard:
                if self._running.get(thread_id) == run_id:
                    del self._running[thread_id]
        state = self.graph.get_state(config).values
        result = AskResult.from_state(state, thread_id, time.perf_counter() - started, ttft)
        if failure:
            result.error = result.error or failure
            yield ErrorEvent(message=failure, fatal=True)
        yield DoneEvent(result=result)

    def invoke(self, request: AskRequest) -> AskResult:
        """Run one turn to the end and return its result."""
        for event in self.stream(request):
            if isinstance(event, DoneEvent):
                return event.result
        raise AssertionError("the agent's stream ended without a result")  # pragma: no cover

    async def astream(self, request: AskRequest) -> AsyncIterator[AgentEvent]:
        """`stream` for async servers: runs in a worker thread; cancelling stops the answer."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()
        end = object()

        def work() -> None:
            try:
                for event in self.stream(request, cancel=cancel):
                    loop.call_soon_threadsafe(events.put_nowait, event)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the event loop
                loop.call_soon_threadsafe(events.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(events.put_nowait, end)

        worker = threading.Thread(target=work, name="agent-turn", daemon=True)
        worker.start()
        try:
            while (item := await events.get()) is not end:
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            cancel.set()

    def stop(self, thread_id: str) -> bool:
        """Stop the answer being written in `thread_id`; False if nothing was running."""
        with self._guard:
            run_id = self._running.get(thread_id)
        if run_id is None:
            return False
        self._deps.cancel_event(run_id).set()
        return True

    # --- conversations ---------------------------------------------------------------------

    def turns(self, thread_id: str) -> list[Turn]:
        """The recorded turns of `thread_id` (with sources, citations, transcripts)."""
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        return list(snapshot.values.get("turns") or [])

    def history(self, thread_id: str) -> list[Message]:
        """The conversation of `thread_id` as messages (answers with their `[N]` citations)."""
        return [
            Message(
                turn.get("role", "user"),  # type: ignore[arg-type]
                turn.get("content", ""),
                image=Path(turn["image"]) if turn.get("image") else None,
                audio=Path(turn["audio"]) if turn.get("audio") else None,
            )
            for turn in self.turns(thread_id)
        ]

    def threads(self) -> list[ThreadInfo]:
        """Past conversations, the most recently used first."""
        return self._threads.list()

    def delete_thread(self, thread_id: str) -> None:
        self._checkpointer.delete_thread(thread_id)
        self._threads.delete(thread_id)

    def close(self) -> None:
        self._threads.close()
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- helpers ---------------------------------------------------------------------------

    def _validate(self, request: AskRequest) -> None:
        if not request.question.strip() and request.image is None and request.audio is None:
            raise AgentInputError(
                "the question is empty: type a question or attach an image or audio"
            )
        for kind, path in (("image", request.image), ("audio", request.audio)):
            if path is not None and not Path(path).is_file():
                raise AgentInputError(f"{kind} file not found: {path}")
        if request.pages is not None and not 1 <= request.pages <= MAX_PAGES:
            raise AgentInputError(f"pages must be between 1 and {MAX_PAGES}, not {request.pages}")
        if request.search:
            self._deps.provider(request.provider)  # a bad provider spec fails here, clearly

    def _thread_lock(self, thread_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(thread_id, threading.Lock())


def _turn_of(message: Message) -> Turn:
    turn: Turn = {
        "role": "user" if message.role == "user" else "assistant",
        "content": message.content,
    }
    if message.role == "user":
        turn["model_text"] = message.content
    return turn
