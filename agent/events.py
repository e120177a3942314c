"""What the agent tells its caller while it works: one small event type per kind of news.

`SearchAgent.stream` yields these in order: step events as each node starts, the
perception, the decision, queries, search results, each page as it is fetched, the numbered
sources given to the model, how far the model has read them (`PrefillEvent`, llama.cpp
only), answer tokens as the model writes them, the final (citation-checked) answer, and
last a `DoneEvent` carrying the `AskResult`. `to_json()` gives one
JSON-ready dict per event (`{"type": ..., ...}`) for the API's server-sent events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .result import AskResult


@dataclass(frozen=True)
class _Event:
    type: ClassVar[str] = "event"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class StepEvent(_Event):
    """A node started; `label` is a short status line for people ("Searching: lru_cache")."""

    type: ClassVar[str] = "step"
    step: str
    label: str


@dataclass(frozen=True)
class PerceptionEvent(_Event):
    """What perception made of the attachments (a voice question's transcript, image text)."""

    type: ClassVar[str] = "perception"
    transcript: str | None
    image_text: str | None


@dataclass(frozen=True)
class DecisionEvent(_Event):
    type: ClassVar[str] = "decision"
    search: bool
    reason: str


@dataclass(frozen=True)
class QueryEvent(_Event):
    type: ClassVar[str] = "query"
    query: str


@dataclass(frozen=True)
class SearchResultsEvent(_Event):
    """The provider's hits, before any page is fetched."""

    type: ClassVar[str] = "search_results"
    provider: str | None
    results: list[dict[str, Any]] = field(default_factory=list)  # {url, title, snippet, rank}
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PageEvent(_Event):
    """One page fetched (or failed), as it arrives."""

    type: ClassVar[str] = "page"
    url: str
    title: str
    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class SourcesEvent(_Event):
    """The numbered sources the model answers from: `[{n, url, title}]`; `[N]` cites source N."""

    type: ClassVar[str] = "sources"
    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PrefillEvent(_Event):
    """The model is reading its prompt (the sources): `done` of `total` tokens so far. Sent
    only by backends that evaluate a long prompt in pieces (llama.cpp), before the first
    token; on a CPU this is most of the wait."""

    type: ClassVar[str] = "prefill"
    done: int
    total: int


@dataclass(frozen=True)
class TokenEvent(_Event):
    """A piece of the answer as the model writes it (citations already in `[N]` form)."""

    type: ClassVar[str] = "token"
    text: str


@dataclass(frozen=True)
class AnswerEvent(_Event):
    """The final answer after citation checking: replaces the streamed text."""

    type: ClassVar[str] = "answer"
    answer: str
    citations: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ErrorEvent(_Event):
    """Something failed; `fatal` means the answer could not be completed."""

    type: ClassVar[str] = "error"
    message: str
    step: str | None = None
    fatal: bool = False


# --- deep mode's research progress (agent/deep) -----------------------------------------


@dataclass(frozen=True)
class PlanEvent(_Event):
    """Deep mode planned (or, in a later round, added) sub-questions; `by`: model or fallback."""

    type: ClassVar[str] = "plan"
    round: int
    subquestions: list[str] = field(default_factory=list)
    by: str = "fallback"


@dataclass(frozen=True)
class ResearchEvent(_Event):
    """One sub-question researched: its query and the pages it read (`{url, title, ok, shared}`;
    `shared`: already read for another sub-question, not fetched again)."""

    type: ClassVar[str] = "research"
    round: int
    subquestion: str
    query: str
    pages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class NoteEvent(_Event):
    """A short cited note for one sub-question (`[N]` are numbers of the final source list)."""

    type: ClassVar[str] = "note"
    subquestion: str
    note: str
    sources: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ReflectEvent(_Event):
    """After a round: is something missing? `queries` are the next round's new searches;
    `cut` says which budget ended the research early ("time", "rounds", "stopped")."""

    type: ClassVar[str] = "reflect"
    round: int
    done: bool
    reason: str
    queries: list[str] = field(default_factory=list)
    cut: str | None = None


RESEARCH_EVENTS = (PlanEvent, ResearchEvent, NoteEvent, ReflectEvent)


@dataclass(frozen=True)
class DoneEvent(_Event):
    """Always the last event of a turn."""

    type: ClassVar[str] = "done"
    result: AskResult

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "result": self.result.to_json()}


AgentEvent = (
    StepEvent
    | PerceptionEvent
    | DecisionEvent
    | QueryEvent
    | SearchResultsEvent
    | PageEvent
    | SourcesEvent
    | PrefillEvent
    | TokenEvent
    | AnswerEvent
    | ErrorEvent
    | PlanEvent
    | ResearchEvent
    | NoteEvent
    | ReflectEvent
    | DoneEvent
)
