"""What the nodes need besides the state: the runtime, settings, retrieval policies, providers,
a clock.

Built once per `SearchAgent` and bound into every node (`functools.partial`), so a node is a
plain function of the state and nothing constructs models or providers per call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from agent.dialect import Dialect, dialect_for
from agent.generation import complete
from agent.read_ahead import ReadAheads
from core.settings import Settings
from retrieval.policy import RetrievalPolicy
from runtime import Message, Runtime, Sampling, Usage

if TYPE_CHECKING:
    from agent.documents import FilePages, FileScope
    from retrieval.search import SearchProvider
    from store.documents import DocumentStore

T = TypeVar("T")


@dataclass
class AgentDeps:
    runtime: Runtime
    settings: Settings
    retrieval: RetrievalPolicy  # built from the settings by `wiring`
    clock: Callable[[], datetime] = datetime.now
    documents: DocumentStore | None = None  # files given as sources; None: no store
    #: The answer prompts being read ahead while their turn searches (agent/read_ahead.py).
    read_aheads: ReadAheads = field(default_factory=ReadAheads)
    _providers: dict[str, SearchProvider] = field(default_factory=dict)
    _cancels: dict[str, threading.Event] = field(default_factory=dict)
    _memo: dict[Hashable, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def dialect(self) -> Dialect:
        return dialect_for(self.runtime.dialect)

    def provider(self, spec: str | None) -> SearchProvider:
        """The search provider chain for `spec` (default: MEGREZ_SEARCH), built once.

        A `spec` from a request may only pick among the operator's configured entries
        (`choose_providers`); it never brings a URL of its own.
        """
        from retrieval.search import choose_providers

        if spec and spec.strip():
            spec = choose_providers(spec, self.retrieval.search)
        else:
            spec = self.retrieval.search.chain.strip()
        with self._lock:
            provider = self._providers.get(spec)
            if provider is None:
                from retrieval.search import make_search_provider

                provider = make_search_provider(spec, self.retrieval.search)
                self._providers[spec] = provider
            return provider

    def has_files(self, owner: str, chat_id: str | None, collections: list[str]) -> bool:
        """Whether a turn has files to search: its chat's or its collections'."""
        return self.documents is not None and self.documents.has_documents(
            owner, chat_id=chat_id, collections=collections
        )

    def turn_provider(
        self, spec: str | None, *, web: bool, files: FileScope | None
    ) -> SearchProvider:
        """The web's provider chain (`provider(spec)`), with the turn's files searched
        together with it (or alone, without `web`)."""
        if files is None or self.documents is None:
            return self.provider(spec)
        from agent.documents import FileProvider, WithFiles

        return WithFiles(FileProvider(self.documents, files), self.provider(spec) if web else None)

    def file_pages(self, owner: str) -> FilePages | None:
        """Reads the owner's file sources (`doc:` URLs) back from the store."""
        from agent.documents import FilePages

        return FilePages(self.documents, owner) if self.documents is not None else None

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()` once per key for the life of this agent (e.g. calibration scores)."""
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()  # outside the lock: it may call the model
        with self._lock:
            return self._memo.setdefault(key, value)

    def complete(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage, run_id: str
    ) -> str:
        """A whole model call of run `run_id`: stopped with the run, given up on a stall."""
        return complete(
            self.runtime,
            messages,
            sampling,
            usage,
            stall_timeout_s=self.settings.runtime.model_stall_timeout_s,
            cancel=self.cancel_event(run_id),
        )

    def cancel_event(self, run_id: str, event: threading.Event | None = None) -> threading.Event:
        """The event that stops run `run_id`'s generation when set (`event` registers one)."""
        with self._lock:
            if event is not None:
                self._cancels[run_id] = event
            return self._cancels.setdefault(run_id, threading.Event())

    def forget_run(self, run_id: str) -> None:
        with self._lock:
            self._cancels.pop(run_id, None)
        self.read_aheads.forget(run_id)
