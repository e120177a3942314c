"""The deep-research subgraph's own state: what one research run needs and produces.

The parent graph's `deep_research` node builds it from the turn (`agent/deep/node.py`) and
maps the outcome back, so the subgraph never re-applies the conversation's reducers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from agent.documents import FileScope
from agent.state import Context, accumulate, add_tokens, merge_timings
from runtime import Message


@dataclass
class DeepState:
    # --- the question, as the parent graph hands it over --------------------------------
    question: str = ""  # the user's text as the model reads it
    user: Message | None = None
    history: list[Message] = field(default_factory=list)
    earlier_questions: list[str] = field(default_factory=list)
    earlier_answers: list[str] = field(default_factory=list)  # one per earlier question
    provider: str | None = None
    web: bool = True  # False: research the files alone (web search is off)
    # The turn's files (agent/documents.FileScope), researched with the web; None: none.
    files: FileScope | None = None
    run_id: str = ""

    # --- research -----------------------------------------------------------------------
    started: float = 0.0  # time.monotonic() at planning
    round: int = 0
    subquestions: list[dict[str, Any]] = field(default_factory=list)  # {text, query, round, target}
    notes: list[dict[str, Any]] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)
    pages: list[Any] = field(default_factory=list)  # every page read so far (retrieval Page)
    queries: Annotated[list[str], accumulate] = field(default_factory=list)
    results: Annotated[list[dict[str, Any]], accumulate] = field(default_factory=list)
    fetched: Annotated[list[dict[str, Any]], accumulate] = field(default_factory=list)
    failures: Annotated[list[str], accumulate] = field(default_factory=list)
    provider_used: str | None = None
    more: bool = False  # reflect asked for another round
    cut: str | None = None  # "time", "rounds", "stopped": why research ended early
    open_queries: list[str] = field(default_factory=list)  # what a cut left unsearched

    # --- the answer ---------------------------------------------------------------------
    answer: str = ""
    error: str | None = None
    stopped: bool = False
    timings: Annotated[dict[str, float], merge_timings] = field(default_factory=dict)
    tokens: Annotated[dict[str, int], add_tokens] = field(default_factory=dict)
