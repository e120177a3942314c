"""The InfiniWebSearch pipeline, as a benchmark-only baseline to compare the agent with.

InfiniWebSearch (the demo Megrez-3B was released with) always searches, takes the top 5
results, cuts each page to 2048 tokens and has the model summarise every page in a call of
its own; the summaries are the numbered contexts of the answer. Here it runs on the same
runtime, search provider, fetcher, answer prompts and citation checker as the agent, so the
comparison isolates the approach: per-page summaries versus ranked passages under a budget.

The search query is the question itself (with history, the last earlier user message in
front of it): InfiniWebSearch lets the model write it, which is one more model call we do not
charge the baseline for.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime

from agent.citation_marks import normalize_citations
from agent.citations import check_citations
from agent.dialect import dialect_for, sampling_for
from agent.generation import generate
from agent.prompts import render, template
from agent.result import AskResult
from agent.safety import strip_injections
from agent.state import Context
from agent.support import as_read
from core.settings import Settings
from retrieval.pooled_fetch import fetch_pages_sync
from retrieval.search import make_search_provider
from retrieval.types import Page
from runtime import Message, Runtime, Sampling, Usage
from wiring import retrieval_policy

from .dataset import Question

log = logging.getLogger(__name__)

TOP_K = 5
PAGE_TOKENS = 2048
SUMMARY_TOKENS = 256


def cut_to_tokens(text: str, limit: int, runtime: Runtime) -> str:
    """The longest prefix of `text` within `limit` tokens of the model's tokenizer (roughly:
    cut by the character/token ratio, then trim until it fits)."""
    tokens = runtime.count_tokens(text)
    while tokens > limit and text:
        text = text[: max(int(len(text) * limit / tokens * 0.97), 1) - 1]
        tokens = runtime.count_tokens(text)
    return text


class InfiniWebSearchBaseline:
    """`baseline(question) -> AskResult`, the same result type the agent returns."""

    def __init__(
        self,
        runtime: Runtime,
        settings: Settings,
        *,
        top_k: int = TOP_K,
        page_tokens: int = PAGE_TOKENS,
        summary_tokens: int = SUMMARY_TOKENS,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.top_k = top_k
        self.page_tokens = page_tokens
        self.summary_tokens = summary_tokens
        self.retrieval = retrieval_policy(settings)
        self.provider = make_search_provider(self.retrieval.search.chain, self.retrieval.search)

    def _stream(self, messages: list[Message], sampling: Sampling, usage: Usage) -> Iterator[str]:
        return generate(
            self.runtime,
            messages,
            sampling,
            usage,
            stall_timeout_s=self.settings.runtime.model_stall_timeout_s,
        )

    def summarize(self, question: str, page: Page, usage: Usage) -> str:
        text = cut_to_tokens(strip_injections(page.text), self.page_tokens, self.runtime)
        messages = [
            Message("system", template("baseline", "summarize_system")),
            Message(
                "user",
                render(
                    "baseline",
                    "summarize_user",
                    question=question,
                    title=page.title or page.url,
                    text=text,
                ),
            ),
        ]
        sampling = sampling_for(self.settings, self.summary_tokens)
        return "".join(self._stream(messages, sampling, usage)).strip()

    def __call__(self, question: Question) -> AskResult:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        usage = Usage()

        def lap(step: str, since: float) -> float:
            now = time.perf_counter()
            timings[step] = round(now - since, 4)
            return now

        earlier = [turn.content for turn in question.history if turn.role == "user"]
        query = f"{earlier[-1]} {question.question}" if earlier else question.question
        mark = time.perf_counter()
        outcome = self.provider.search(query, max_results=self.top_k)
        results = outcome.results[: self.top_k]
        mark = lap("search", mark)
        fetched = fetch_pages_sync([result.url for result in results], self.retrieval.fetch)
        pages = [item for item in fetched if isinstance(item, Page)]
        mark = lap("fetch", mark)
        contexts = [
            Context(
                n=n,
                url=page.url,
                title=page.title or page.url,
                text=self.summarize(question.question, page, usage),
            )
            for n, page in enumerate(pages, start=1)
        ]
        mark = lap("summarize", mark)

        history = question.history_messages()
        user = Message("user", question.question)
        now = datetime.now()
        dialect = dialect_for(self.runtime.dialect)
        messages = dialect.answer_messages(now, history, user, query, contexts)
        sampling = sampling_for(self.settings, self.settings.agent.answer_max_tokens)
        ttft: float | None = None
        written: list[str] = []
        for chunk in self._stream(messages, sampling, usage):
            if ttft is None and chunk.strip():
                ttft = time.perf_counter() - started
            written.append(chunk)
        answer = normalize_citations("".join(written)).strip()
        mark = lap("answer", mark)
        report = check_citations(
            answer,
            [as_read(c["title"], c["text"]) for c in contexts],
            self.settings.agent.citation_support,
        )
        lap("check_citations", mark)
        timings["total"] = round(time.perf_counter() - started, 4)
        return AskResult(
            answer=report.answer,
            thread_id=uuid.uuid4().hex,
            searched=True,
            queries=[query],
            sources=[{"n": c["n"], "url": c["url"], "title": c["title"]} for c in contexts],
            citations=report.citations,
            timings=timings,
            tokens={"prompt": usage.prompt_tokens, "completion": usage.completion_tokens},
            ttft_s=None if ttft is None else round(ttft, 4),
            decision="always searches (baseline)",
            provider=outcome.provider,
            fetched=[
                {
                    "url": item.url,
                    "title": getattr(item, "title", ""),
                    "ok": isinstance(item, Page),
                    "reason": getattr(item, "reason", None),
                }
                for item in fetched
            ],
            citation_precision=report.precision,
            citation_checks=[asdict(check) for check in report.checks],
            failures=list(outcome.failures),
        )
