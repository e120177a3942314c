"""Run a question set through a pipeline (the agent, or the benchmark baseline) and score it.

    with corpus_environment(settings, corpus_dir) as (run_settings, corpus):
        agent = search_agent(run_settings)
        records = run_questions(questions, agent_pipeline(agent), corpus)

Every question goes through the full graph with search ON, as a user's question would; the
conversation it creates is deleted afterwards so evaluations do not fill the user's chat list.
One failing question is recorded with its error and the run goes on.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from agent.api import AskRequest, SearchAgent
from agent.events import DoneEvent
from agent.result import AskResult
from core.settings import Settings
from retrieval.index_store import find_indexed_page
from runtime import Runtime
from wiring import index_store, search_agent

from .corpus import IndexedCorpus, corpus_settings, ensure_index, serve_corpus
from .dataset import Question
from .metrics import QuestionScore, Summary, failed_question, score_question, summarize

log = logging.getLogger(__name__)

Pipeline = Callable[[Question], AskResult]

# The dev set's corpus (the benchmarks' default): the HTML of Debian's python3.11-doc package.
# Question files are always given (`--questions`, or MEGREZ_EVAL_QUESTIONS for benchmarks).
DOCS_CORPUS = Path("/usr/share/doc/python3.11/html")
#: What each question's record follows in the log (`bench_context --queries` reads it back).
RECORD_LOG_PREFIX = "eval record "


@dataclass
class QuestionRecord:
    """One question, what the pipeline did with it, and its score."""

    question: Question
    score: QuestionScore
    result: AskResult | None = None  # None when the pipeline failed outright

    @property
    def error(self) -> str | None:
        return self.score.error

    def to_json(self) -> dict[str, Any]:
        result = self.result
        return {
            "id": self.question.id,
            "question": self.question.question,
            "answer": result.answer if result else None,
            "searched": result.searched if result else None,
            "queries": result.queries if result else [],
            "sources": result.sources if result else [],
            "citations": result.citations if result else [],
            "timings": result.timings if result else {},
            "tokens": result.tokens if result else {},
            "unsupported": result.unsupported if result else [],
            # What the citation checker decided, and on which passages: per-citation review.
            "citation_checks": result.citation_checks if result else [],
            "passages": result.passages if result else [],
            "error": self.error,
            "score": {
                "decision_correct": self.score.decision_correct,
                "retrieval_hit": self.score.retrieval_hit,
                "context_hit": self.score.context_hit,
                "loop_cut": self.score.loop_cut,
                "answer_correct": self.score.answer_correct,
                "citation_precision": self.score.citation_precision,
                "strict_citation_precision": self.score.strict_citation_precision,
                "citation_coverage": self.score.citation_coverage,
                "latency_s": self.score.latency_s,
                "ttft_s": self.score.ttft_s,
                "pages_fetched": self.score.pages_fetched,
            },
        }


@dataclass
class EvalRun:
    """The outcome of one evaluation: per-question records and the overall figures."""

    name: str  # "agent" or "baseline"
    model: str
    records: list[QuestionRecord]
    summary: Summary
    corpus: IndexedCorpus | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def corpus_environment(
    settings: Settings, corpus_dir: Path, progress: bool = True
) -> Iterator[tuple[Settings, IndexedCorpus]]:
    """Serve `corpus_dir` on loopback and index it; yields settings searching that index."""
    with serve_corpus(Path(corpus_dir)) as base_url:
        corpus = ensure_index(Path(corpus_dir), base_url, settings, progress=progress)
        yield corpus_settings(settings, corpus), corpus


def agent_pipeline(agent: SearchAgent, *, deep: bool = False) -> Pipeline:
    """The agent as a pipeline: search ON, history as earlier turns of a fresh thread."""

    def ask(question: Question) -> AskResult:
        request = AskRequest(
            question=question.question,
            search=True,
            history=question.history_messages(),
            deep=deep,
        )
        result: AskResult | None = None
        for event in agent.stream(request):
            if isinstance(event, DoneEvent):
                result = event.result
        if result is None:  # pragma: no cover - the API promises a DoneEvent
            raise RuntimeError("the agent ended without a result")
        try:
            agent.delete_thread(result.thread_id)
        except Exception:
            log.debug("could not delete evaluation thread %s", result.thread_id, exc_info=True)
        return result

    return ask


def page_text_lookup(settings: Settings) -> Callable[[str], str | None]:
    """The indexed text of a page URL (what the strict citation check reads), memoised."""

    indexes = index_store(settings)

    @functools.lru_cache(maxsize=256)
    def text(url: str) -> str | None:
        page = find_indexed_page(url, indexes)
        return page.text if page is not None else None

    return text


def score_result(
    question: Question,
    result: AskResult,
    base_url: str,
    page_text: Callable[[str], str | None],
) -> QuestionScore:
    """Score one pipeline result against its question."""
    urls = {source["n"]: source["url"] for source in result.sources}
    cited_texts = [page_text(urls[n]) if n in urls else None for n in result.citations]
    return score_question(
        id=question.id,
        needs_search=question.needs_search,
        answers=question.answers,
        gold_pages=question.gold_pages,
        searched=result.searched,
        answer=result.answer,
        fetched_urls=[page["url"] for page in result.fetched if page.get("ok")],
        citation_checks=result.citation_checks,
        cited_page_texts=cited_texts,
        latency_s=result.timings.get("total"),
        ttft_s=result.ttft_s,
        steps_s=result.timings,
        prompt_tokens=int(result.tokens.get("prompt", 0)),
        completion_tokens=int(result.tokens.get("completion", 0)),
        base_url=base_url,
        error=result.error,
        passages=result.passages,
        loop_cut=result.loop_cut,
        question=question.question,
    )


def run_questions(
    questions: Sequence[Question],
    pipeline: Pipeline,
    base_url: str,
    page_text: Callable[[str], str | None],
    *,
    desc: str = "questions",
    progress: bool = True,
) -> list[QuestionRecord]:
    """Each question through `pipeline`, scored; a failure is recorded and the run goes on."""
    records: list[QuestionRecord] = []
    bar = tqdm(questions, desc=desc, unit="q", disable=not progress)
    for question in bar:
        try:
            result = pipeline(question)
            record = QuestionRecord(
                question, score_result(question, result, base_url, page_text), result
            )
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.warning("question %s failed: %s", question.id, message, exc_info=True)
            score = failed_question(
                question.id, question.needs_search, question.answers, question.gold_pages, message
            )
            record = QuestionRecord(question, score)
        records.append(record)
        # One line per question as it finishes: a long run can be followed (and read) early.
        record_json = json.dumps(record.to_json(), ensure_ascii=False, default=str)
        log.info("%s%s", RECORD_LOG_PREFIX, record_json)
        correct = [r.score.answer_correct for r in records if r.score.answer_correct is not None]
        if correct:
            bar.set_postfix(answer_acc=f"{sum(correct) / len(correct):.2f}", refresh=False)
    return records


def evaluate(
    settings: Settings,
    questions: Sequence[Question],
    corpus_dir: Path,
    *,
    runtime: Runtime | None = None,
    progress: bool = True,
    deep: bool = False,
) -> EvalRun:
    """The `megrez-search eval` run: serve and index the corpus, ask the agent every question.

    `runtime` replaces the one `settings.runtime.model` names (benchmarks wrap it to time it);
    `deep` asks in deep mode (the run is then named "deep").
    """
    started = time.perf_counter()
    with (
        corpus_environment(settings, corpus_dir, progress) as (run_settings, corpus),
        search_agent(run_settings, runtime) as agent,
    ):
        records = run_questions(
            questions,
            agent_pipeline(agent, deep=deep),
            corpus.base_url,
            page_text_lookup(run_settings),
            desc="deep" if deep else "eval",
            progress=progress,
        )
    return EvalRun(
        name="deep" if deep else "agent",
        model=settings.runtime.model,
        records=records,
        summary=summarize([record.score for record in records]),
        corpus=corpus,
        seconds=time.perf_counter() - started,
    )
