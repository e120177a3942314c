"""The outcome of one question: what the CLI's `--json`, the API and the evaluation read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.citations import FENCE_RE, split_sentences
from agent.state import Source, Turn, source_of
from agent.support import supporting_span


@dataclass
class AskResult:
    answer: str
    thread_id: str
    searched: bool = False
    queries: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # numbered; `[n]` in the answer
    citations: list[int] = field(default_factory=list)  # numbers used in the answer
    transcript: str | None = None
    image_text: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, plus "total"
    tokens: dict[str, int] = field(default_factory=lambda: {"prompt": 0, "completion": 0})
    ttft_s: float | None = None  # seconds to the first answer token
    decision: str = ""
    provider: str | None = None
    fetched: list[dict[str, Any]] = field(default_factory=list)  # {url, title, ok, reason}
    citation_precision: float | None = None  # share of the model's own citations that held
    citation_checks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # search/fetch problems on the way
    error: str | None = None  # the turn failed (partial answer kept)
    stopped: bool = False  # the caller stopped generation
    loop_cut: bool = False  # a repetition loop was cut off the answer
    unsupported: list[str] = field(default_factory=list)  # sentences dropped as unsupported
    passages: list[str] = field(default_factory=list)  # the passage texts the model was shown
    research: dict[str, Any] | None = None  # deep mode: rounds, sub-questions, notes, cut
    recorded: Turn | None = None  # the answer's turn as the conversation keeps it

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def claims(self) -> list[dict[str, Any]]:
        """`cited_claims` of the answer; none when its citations back nothing (the listing
        of "the sources don't say")."""
        titled = {int(s.get("n") or 0): str(s.get("title") or "") for s in self.sources}
        titles = [titled.get(n, "") for n in range(1, len(self.passages) + 1)]
        return cited_claims(self.answer, self.passages, titles) if self.citations else []

    @classmethod
    def from_state(
        cls, values: dict[str, Any], thread_id: str, total_s: float, ttft_s: float | None
    ) -> AskResult:
        timings = {
            step: round(seconds, 4) for step, seconds in (values.get("timings") or {}).items()
        }
        timings["total"] = round(total_s, 4)
        return cls(
            answer=values.get("answer", ""),
            thread_id=thread_id,
            searched=bool(values.get("will_search")),
            queries=list(values.get("queries") or []),
            sources=[source_of(c) for c in values.get("contexts") or []],
            citations=list(values.get("citations") or []),
            transcript=values.get("transcript"),
            image_text=values.get("image_text"),
            timings=timings,
            tokens=dict(values.get("tokens") or {"prompt": 0, "completion": 0}),
            ttft_s=None if ttft_s is None else round(ttft_s, 4),
            decision=values.get("decision", ""),
            provider=values.get("provider_used"),
            fetched=list(values.get("fetched") or []),
            citation_precision=values.get("citation_precision"),
            citation_checks=list(values.get("citation_checks") or []),
            failures=list(values.get("failures") or []) + list(values.get("errors") or []),
            error=values.get("error"),
            stopped=bool(values.get("stopped")),
            loop_cut=bool(values.get("loop_cut")),
            unsupported=list(values.get("unsupported") or []),
            passages=[c["text"] for c in values.get("contexts") or []],
            research=_research(values),
            recorded=_recorded(values),
        )

    def to_json(self) -> dict[str, Any]:
        """The `ask --json` object (schema of the foundation issue, plus agent fields)."""
        return {
            "answer": self.answer,
            "searched": self.searched,
            "queries": self.queries,
            "sources": [dict(source) for source in self.sources],
            "citations": self.citations,
            "claims": self.claims,
            "input": {"transcript": self.transcript, "image_text": self.image_text},
            "timings": self.timings,
            "tokens": self.tokens,
            "thread_id": self.thread_id,
            "decision": self.decision,
            "provider": self.provider,
            "pages": self.fetched,
            "citation_precision": self.citation_precision,
            "ttft_s": self.ttft_s,
            "failures": self.failures,
            "error": self.error,
            "stopped": self.stopped,
            "loop_cut": self.loop_cut,
            "unsupported": self.unsupported,
            "research": self.research,
        }


def cited_claims(
    answer: str, passages: list[str], titles: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Each sentence of `answer` with a citation `[N]`, once per source it cites: the
    sentence, N, and the sentence of passage N that supports it best (`quote`; "" when none
    holds enough of it), which the UI's preview highlights; read, as the checker reads it,
    under the facts of the source's title (`titles[N-1]`). Fenced code cites nothing."""
    claims: list[dict[str, Any]] = []
    for index, segment in enumerate(FENCE_RE.split(answer)):
        if index % 2:
            continue
        for sentence in split_sentences(segment):
            for number in dict.fromkeys(sentence.cited):
                if 1 <= number <= len(passages):
                    title = titles[number - 1] if number <= len(titles) else ""
                    quote = supporting_span(sentence.body, passages[number - 1], title=title)
                    claims.append({"sentence": sentence.body, "source": number, "quote": quote})
    return claims


def _recorded(values: dict[str, Any]) -> Turn | None:
    """This turn's answer as recorded (`finish` appends it last); None if it was not."""
    turns = values.get("turns") or []
    return turns[-1] if turns and turns[-1].get("role") == "assistant" else None


def _research(values: dict[str, Any]) -> dict[str, Any] | None:
    """Deep mode's record: None for a normal turn."""
    if not values.get("deep") or not values.get("research_round"):
        return None
    return {
        "rounds": values.get("research_round", 0),
        "subquestions": [q.get("text", "") for q in values.get("subquestions") or []],
        "notes": [
            {
                "subquestion": n.get("subquestion", ""),
                "note": n.get("text", ""),
                "sources": n.get("sources", []),
            }
            for n in values.get("notes") or []
        ],
        "cut": values.get("research_cut"),
    }
