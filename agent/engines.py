"""The models one agent answers with: for each configured model spec (`MEGREZ_MODEL` first,
then `MEGREZ_MODELS`), its runtime, its dependencies and its two compiled graphs.

A request names its model (`AskRequest.model`); the engine of that model is made the first
time a request names it, under a lock (two first requests load one runtime). Every engine
shares the agent's store and checkpointers, so a conversation may change model between
questions, and the agent's per-conversation locks order its turns whatever model each uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.deps import AgentDeps
from agent.graph import build_graph
from agent.request import AgentInputError
from core.settings import Settings
from retrieval.policy import RetrievalPolicy
from runtime import Runtime, load_runtime
from store import Store

#: How an engine gets its runtime from the settings naming its model (tests give their own).
RuntimeLoader = Callable[[Settings], Runtime]


@dataclass(frozen=True)
class Engine:
    """One model's way through the graph: its runtime, dependencies and compiled graphs."""

    spec: str
    runtime: Runtime
    deps: AgentDeps
    graph: Any  # compiled on the store's checkpointer: turns that are kept
    stateless_graph: Any  # compiled on an in-memory one: turns forgotten when they end

    @property
    def settings(self) -> Settings:
        return self.deps.settings


class Engines:
    """The engine of each configured model, made when a request first names it."""

    def __init__(
        self,
        settings: Settings,
        default: Runtime,
        store: Store,
        scratch: BaseCheckpointSaver[Any],
        *,
        retrieval: RetrievalPolicy,
        clock: Callable[[], datetime] = datetime.now,
        load: RuntimeLoader = load_runtime,
    ) -> None:
        self.settings = settings
        self.retrieval = retrieval
        self._store = store
        self._scratch = scratch
        self._clock = clock
        self._load = load
        self._lock = threading.Lock()
        self.default = self._make(settings, default)
        self._engines: dict[str, Engine] = {self.default.spec: self.default}

    @property
    def choices(self) -> list[str]:
        """The model specs a request may name, the default first."""
        return self.settings.runtime.model_choices

    def get(self, spec: str | None) -> Engine:
        """The engine of `spec` (None or "": the default); `AgentInputError` for a spec that is
        not configured: a request picks among the operator's models, never a path of its own."""
        if not spec or spec == self.default.spec:
            return self.default
        if spec not in self.choices:
            raise AgentInputError(
                f"no such model: {spec!r} (configured: {', '.join(self.choices)})"
            )
        with self._lock:
            engine = self._engines.get(spec)
            if engine is None:
                settings = self.settings.replace(model=spec)
                engine = self._engines[spec] = self._make(settings, self._load(settings))
            return engine

    def all(self) -> list[Engine]:
        """The engines made so far."""
        with self._lock:
            return list(self._engines.values())

    def _make(self, settings: Settings, runtime: Runtime) -> Engine:
        deps = AgentDeps(runtime, settings, self.retrieval, clock=self._clock)
        deps.documents = self._store.documents  # files as sources
        return Engine(
            spec=settings.runtime.model,
            runtime=runtime,
            deps=deps,
            graph=build_graph(deps).compile(checkpointer=self._store.checkpointer),
            stateless_graph=build_graph(deps).compile(checkpointer=self._scratch),
        )
