"""The agent's Python API, used by the CLI, the UI, the API server and the evaluation.

    agent = search_agent(settings)                 # wiring.search_agent: the graph, once
    for event in agent.stream(AskRequest("What is the default maxsize of lru_cache?")):
        ...                                        # StepEvent, TokenEvent, ..., DoneEvent
    result = agent.invoke(AskRequest("And its typed flag?", thread_id=result.thread_id))
    agent.invoke(AskRequest("And in 3.8?", thread_id=result.thread_id, model="embedded:small"))

Conversations live in LangGraph's checkpointer (SQLite in the data dir, or PostgreSQL with
`MEGREZ_DATABASE_URL`, see `store`), keyed by user and thread id, so a restart
loses nothing and one user never sees another's conversations. One `SearchAgent` serves many
threads at once (the UI's users): turns of different threads run in parallel — the model
backend serialises its own calls, I/O-bound steps overlap — while turns of the same thread
take turns. The model is a field of the request, among the configured ones (`MEGREZ_MODEL`,
`MEGREZ_MODELS`): one agent serves them all (`agent.engines`), so a thread may change model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Self, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from agent.deps import AgentDeps
from agent.engines import Engine, Engines, RuntimeLoader
from agent.events import AgentEvent, DoneEvent, ErrorEvent, TokenEvent
from agent.followups import suggest_followups
from agent.request import AgentInputError, AskRequest, validate_request
from agent.result import AskResult
from agent.state import Turn, question_words, turn_input, turn_of_message
from agent.turn_lock import (
    DatabaseTurnLock,
    ThreadBusyError,
    ThreadLocks,
    TurnLock,
)
from agent.workers import Workers
from core.errors import MegrezSearchError
from core.settings import Settings
from retrieval.policy import RetrievalPolicy
from runtime import Message, Runtime, load_runtime
from store import LOCAL_USER, Store, ThreadInfo, open_store, thread_key

log = logging.getLogger(__name__)

__all__ = ["AgentInputError", "AskRequest", "SearchAgent", "ThreadBusyError", "ThreadInfo"]


class SearchAgent:
    """The search agent of a process: one conversation store, one engine (runtime and compiled
    graphs) per configured model, chosen per request (`AskRequest.model`)."""

    def __init__(
        self,
        settings: Settings,
        runtime: Runtime | None = None,
        *,
        retrieval: RetrievalPolicy,
        clock: Callable[[], datetime] = datetime.now,
        store: Store | None = None,
        load: RuntimeLoader = load_runtime,
    ) -> None:
        """Built by `wiring.search_agent`, which makes `retrieval` from the settings."""
        self.settings = settings
        # A `store` given is shared (another agent of this process opened it and closes it).
        self._owns_store = store is None
        self.store = store if store is not None else open_store(settings.store)
        self.documents = self.store.documents  # files as sources
        self._checkpointer = self.store.checkpointer
        self._threads = self.store.threads
        self._scratch = InMemorySaver()
        default = runtime if runtime is not None else load(settings)
        self.engines = Engines(
            settings,
            default,
            self.store,
            self._scratch,
            retrieval=retrieval,
            clock=clock,
            load=load,
        )
        self.runtime = default  # the default model's
        self.graph = self.engines.default.graph  # any engine's graph reads the same checkpoints
        # Serialises a conversation's turns across processes (the UI and the API, or replicas,
        # on one database); the in-process locks below only order this process's turns.
        self._turn_lock: TurnLock = DatabaseTurnLock(
            self.store.database,
            lease_s=settings.store.turn_lease_s,
            wait_s=settings.store.turn_wait_s,
        )
        self._locks = ThreadLocks()
        # The threads async servers' turns run on (`astream`), reused rather than one a turn.
        self._turn_workers = Workers("agent-turn", max(1, settings.server.ui_concurrency))
        # thread id -> run id of its turn in progress, and the dependencies that can cancel it
        self._running: dict[str, tuple[str, AgentDeps]] = {}
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
        # Here, not in the generator: bad requests fail at the call.
        engine = self.engines.get(request.model)
        validate_request(request, engine.deps)
        return self._turn(request, engine, cancel)

    def _turn(
        self, request: AskRequest, engine: Engine, cancel: threading.Event | None
    ) -> Iterator[AgentEvent]:
        public_id = request.thread_id or uuid.uuid4().hex
        thread_id = thread_key(request.user, public_id)
        run_id = uuid.uuid4().hex
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        values = turn_input(
            question=request.question.strip(),
            image=str(request.image) if request.image else None,
            audio=str(request.audio) if request.audio else None,
            search=request.search,
            provider=request.provider,
            max_pages=request.max_pages,
            memory_fallback=request.memory_fallback,
            deep=request.deep,
            file_names=list(request.file_names),
            run_id=run_id,
            started_at=time.time(),
            owner=request.user,
            chat_id=public_id,
            collections=None if request.collections is None else list(request.collections),
        )
        if not request.keep:
            yield from self._stateless_turn(request, engine, values, config, run_id, cancel)
            return
        with (
            self._thread_lock(thread_id),
            self._turn_lock.hold(thread_id, run_id) as keep_alive,
        ):
            if request.history and not self.turns(public_id, request.user):
                values["turns"] = [turn_of_message(message) for message in request.history]
            self._start(engine, thread_id, run_id, cancel)
            events = self._run(engine, engine.graph, values, config, run_id, public_id)
            try:
                for event in events:
                    keep_alive()
                    yield event
            finally:
                events.close()  # a caller that stops listening still gets the turn recorded
                self._list(request.user, public_id, request.question)

    def _stateless_turn(
        self,
        request: AskRequest,
        engine: Engine,
        values: dict[str, Any],
        config: RunnableConfig,
        run_id: str,
        cancel: threading.Event | None,
    ) -> Iterator[AgentEvent]:
        thread_id = config["configurable"]["thread_id"]
        if request.history:
            values["turns"] = [turn_of_message(message) for message in request.history]
        self._start(engine, thread_id, run_id, cancel)
        public_id = request.thread_id or thread_id
        try:
            yield from self._run(engine, engine.stateless_graph, values, config, run_id, public_id)
        finally:
            self._scratch.delete_thread(thread_id)

    def _start(
        self, engine: Engine, thread_id: str, run_id: str, cancel: threading.Event | None
    ) -> None:
        if cancel is not None:
            engine.deps.cancel_event(run_id, cancel)
        with self._guard:
            self._running[thread_id] = (run_id, engine.deps)

    def _run(
        self,
        engine: Engine,
        graph: Any,
        values: dict[str, Any],
        config: RunnableConfig,
        run_id: str,
        public_id: str,
    ) -> Generator[AgentEvent, None, None]:
        thread_id = config["configurable"]["thread_id"]
        started = time.perf_counter()
        ttft: float | None = None
        failure: str | None = None
        # Checkpoints are written once, when the turn ends: a process killed mid-turn leaves the
        # turn absent, never half-written (a question without its answer).
        inner = graph.stream(values, config, stream_mode="custom", durability="exit")
        # The turn runs in the foreground: optional model work (follow-ups) gives way to it.
        with engine.runtime.priority.foreground():
            try:
                for event in inner:
                    if isinstance(event, TokenEvent) and ttft is None:
                        ttft = time.perf_counter() - started
                    yield cast(AgentEvent, event)  # the nodes write nothing else to "custom"
            except GeneratorExit:
                # The caller stopped listening: stop the model, let the graph record the turn.
                engine.deps.cancel_event(run_id).set()
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
                engine.deps.forget_run(run_id)
                with self._guard:
                    if self._running.get(thread_id, ("",))[0] == run_id:
                        del self._running[thread_id]
        state = graph.get_state(config).values
        result = AskResult.from_state(state, public_id, time.perf_counter() - started, ttft)
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

    async def astream(
        self, request: AskRequest, slots: threading.Semaphore | None = None
    ) -> AsyncGenerator[AgentEvent, None]:
        """`stream` for async servers: runs on the agent's turn workers (threads reused from
        turn to turn, at most `ui_concurrency`; more turns wait in line); cancelling stops
        the answer. With `slots`, the worker holds one for the turn: a server bounds
        concurrent turns.
        """
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()
        end = object()

        def work() -> None:
            try:
                with slots or contextlib.nullcontext():
                    for event in self.stream(request, cancel=cancel):
                        loop.call_soon_threadsafe(events.put_nowait, event)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the event loop
                loop.call_soon_threadsafe(events.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(events.put_nowait, end)

        self._turn_workers.submit(work)
        try:
            while (item := await events.get()) is not end:
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            cancel.set()

    def stop(self, thread_id: str, user: str = LOCAL_USER) -> bool:
        """Stop the answer being written in `thread_id`; False if nothing was running."""
        with self._guard:
            running = self._running.get(thread_key(user, thread_id))
        if running is None:
            return False
        run_id, deps = running
        deps.cancel_event(run_id).set()
        return True

    # --- conversations ---------------------------------------------------------------------

    def turns(self, thread_id: str, user: str = LOCAL_USER) -> list[Turn]:
        """The recorded turns of `user`'s `thread_id` (with sources, citations, transcripts)."""
        key = thread_key(user, thread_id)
        snapshot = self.graph.get_state({"configurable": {"thread_id": key}})
        return list(snapshot.values.get("turns") or [])

    def history(self, thread_id: str, user: str = LOCAL_USER) -> list[Message]:
        """The conversation of `thread_id` as messages (answers with their `[N]` citations)."""
        return [
            Message(
                turn.get("role", "user"),
                turn.get("content", ""),
                image=Path(image) if (image := turn.get("image")) else None,
                audio=Path(audio) if (audio := turn.get("audio")) else None,
            )
            for turn in self.turns(thread_id, user)
        ]

    def rewind(self, thread_id: str, user: str = LOCAL_USER) -> Turn | None:
        """Take back the last question of `user`'s `thread_id` and its answer (to ask it again).

        Returns the removed user turn, or None when the thread has none or a turn is running.
        """
        if self.is_running(thread_id, user):
            return None
        key = thread_key(user, thread_id)
        with self._thread_lock(key), self._turn_lock.hold(key, uuid.uuid4().hex):
            turns = self.turns(thread_id, user)
            last = max((i for i, t in enumerate(turns) if t.get("role") == "user"), default=None)
            if last is None:
                return None
            config: RunnableConfig = {"configurable": {"thread_id": key}}
            # `turns` only grows by its reducer; None resets it, then the kept turns return.
            self.graph.update_state(config, {"turns": None}, as_node="finish")
            if last:
                self.graph.update_state(config, {"turns": turns[:last]}, as_node="finish")
            self._list(user, thread_id, "")
            return turns[last]

    def is_running(self, thread_id: str, user: str = LOCAL_USER) -> bool:
        with self._guard:
            return thread_key(user, thread_id) in self._running

    def followups(
        self, thread_id: str, user: str = LOCAL_USER, model: str | None = None
    ) -> list[str]:
        """Three questions the user could ask next in `thread_id` (after its last answer),
        written by `model` (None: the default)."""
        engine = self.engines.get(model)
        return suggest_followups(engine.runtime, self.turns(thread_id, user), engine.settings)

    def threads(self, user: str = LOCAL_USER) -> list[ThreadInfo]:
        """`user`'s past conversations, the most recently used first."""
        return self._threads.list(user)

    def delete_thread(self, thread_id: str, user: str = LOCAL_USER) -> None:
        self._checkpointer.delete_thread(thread_key(user, thread_id))
        self._threads.delete(user, thread_id)
        self.documents.remove_chat(user, thread_id)

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- helpers ---------------------------------------------------------------------------

    def _list(self, user: str, thread_id: str, question: str) -> None:
        """The past-chats row of a conversation, from what its checkpoint now holds."""
        questions = [t for t in self.turns(thread_id, user) if t.get("role") == "user"]
        first = question_words(questions[0]) if questions else ""
        title = question.strip() or first or "(voice or image question)"
        now = datetime.now().isoformat(timespec="microseconds")
        self._threads.record(user, thread_id, title, len(questions), now)

    def _thread_lock(self, thread_id: str) -> AbstractContextManager[None]:
        """This process's turn of `thread_id`, waited for at most `turn_wait_s`."""
        return self._locks.hold(thread_id, self.settings.store.turn_wait_s)
