"""The evaluation's metrics, pure functions: per question (`score_question`), then `summarize`.

Each metric applies to some questions only; a per-question value of `None` means "not
applicable" and the question is left out of that metric's overall figure:

- decision accuracy: `searched == needs_search` (every question);
- retrieval recall: a gold page among the pages fetched (questions that need search and name
  gold pages; not searching counts as a miss);
- context recall: a gold answer string occurs in the passages the model was shown
  (questions that need search and have answers; not searching counts as a miss), so
  retrieval and reading are measured apart;
- loops: answers in which the agent cut a repetition loop (every question);
- answer accuracy: the answer, citation markers removed, contains one of `answers`
  (as evaluation/answers.py finds one: case-insensitive, a number only as a whole number;
  questions with no answers are skipped);
- citation precision: share of the model's own citations that the agent's checker found
  supported by the cited passage (pooled over all citations); the strict variant: share of the
  final answer's citations whose page contains a gold answer string (questions with answers);
- citation coverage: share of answer sentences with at least one citation (searched answers,
  pooled over sentences);
- answer language match: the answer is written in the question's language, by its script
  (CJK characters against Latin words, code spans left out; answered questions);
- latency, time to first token, tokens, pages fetched: medians / p95 / means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from posixpath import normpath
from typing import Any
from urllib.parse import unquote, urlsplit

# The sentence rules are the citation checker's own, so coverage counts what it could cite.
from agent.citations import FENCE_RE, split_sentences
from agent.support import content_words

from .answer_language import language_match
from .answers import answer_correct, contains_answer, context_hit

MIN_SENTENCE_WORDS = 2  # as the checker: shorter sentences ("Hi!") are neither cited nor counted


# --- single metrics ---------------------------------------------------------------------------


def decision_correct(searched: bool, needs_search: bool) -> bool:
    return searched == needs_search


def corpus_path(url_or_path: str, base_url: str = "") -> str | None:
    """`url_or_path` as a path relative to the corpus root ("library/functools.html").

    URLs outside `base_url` give None; fragments and queries are dropped; a folder URL means
    its index.html.
    """
    if base_url:
        if not url_or_path.startswith(base_url.rstrip("/") + "/") and url_or_path != base_url:
            return None
        url_or_path = url_or_path[len(base_url.rstrip("/")) :]
    path = unquote(urlsplit(url_or_path).path) if "://" in url_or_path else url_or_path
    path = path.split("#", 1)[0].split("?", 1)[0]
    if not path or path.endswith("/"):
        path += "index.html"
    path = normpath("/" + path).lstrip("/")
    return path or None


def _gold_and_fetched(
    fetched: Iterable[str], gold_pages: Sequence[str], base_url: str
) -> tuple[set[str], set[str]] | None:
    """The corpus paths of the gold pages and of `fetched`; None without gold pages."""
    gold = {path for page in gold_pages if (path := corpus_path(page))}
    if not gold:
        return None
    return gold, {path for url in fetched if (path := corpus_path(url, base_url))}


def retrieval_hit(
    fetched: Iterable[str], gold_pages: Sequence[str], base_url: str = ""
) -> bool | None:
    """Whether a gold page is among `fetched` (URLs or corpus paths); None without gold pages."""
    paths = _gold_and_fetched(fetched, gold_pages, base_url)
    return None if paths is None else bool(paths[0] & paths[1])


def retrieval_all(
    fetched: Iterable[str], gold_pages: Sequence[str], base_url: str = ""
) -> bool | None:
    """Whether every gold page is among `fetched`; None without gold pages."""
    paths = _gold_and_fetched(fetched, gold_pages, base_url)
    return None if paths is None else paths[0] <= paths[1]


def checker_citations(checks: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """(supported, total) of the model's own citations, from the agent's checker verdicts."""
    own = [check for check in checks if check.get("cited") is not None]
    return sum(1 for check in own if check.get("verdict") == "supported"), len(own)


def strict_citations(cited_pages: Sequence[str | None], answers: Sequence[str]) -> tuple[int, int]:
    """(hits, total): cited pages (their text; None = unreadable) that hold a gold answer.

    (0, 0) when the question has no gold answers: the strict check does not apply.
    """
    if not any(a.strip() for a in answers):
        return 0, 0
    hits = sum(1 for text in cited_pages if text is not None and contains_answer(text, answers))
    return hits, len(cited_pages)


def citation_coverage(answer: str) -> tuple[int, int]:
    """(sentences with a citation, sentences) of `answer`, fenced code left out."""
    cited = total = 0
    for sentence in split_sentences(FENCE_RE.sub("\n", answer)):
        if len(content_words(sentence.body)) < MIN_SENTENCE_WORDS:
            continue
        total += 1
        cited += bool(sentence.cited)
    return cited, total


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0..100) with linear interpolation (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


# --- one question -----------------------------------------------------------------------------


@dataclass
class QuestionScore:
    """The metrics of one question; None = not applicable (or, for times, not measured)."""

    id: str
    decision_correct: bool | None = None  # None: the question failed before deciding
    retrieval_hit: bool | None = None
    context_hit: bool | None = None
    retrieval_all_hit: bool | None = None  # every gold page fetched
    answer_correct: bool | None = None
    language_match: bool | None = None  # the answer is in the question's language
    loop_cut: bool = False
    citations_supported: int = 0  # the model's own citations the checker upheld
    citations_total: int = 0
    strict_hits: int = 0  # final citations whose page holds a gold answer
    strict_total: int = 0
    sentences_cited: int = 0
    sentences_total: int = 0
    coverage_applies: bool = False  # a searched answer
    latency_s: float | None = None
    ttft_s: float | None = None
    steps_s: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    pages_fetched: int = 0
    error: str | None = None

    @property
    def citation_precision(self) -> float | None:
        return _share(self.citations_supported, self.citations_total)

    @property
    def strict_citation_precision(self) -> float | None:
        return _share(self.strict_hits, self.strict_total)

    @property
    def citation_coverage(self) -> float | None:
        return _share(self.sentences_cited, self.sentences_total) if self.coverage_applies else None


def score_question(
    *,
    id: str,
    needs_search: bool,
    answers: Sequence[str],
    gold_pages: Sequence[str],
    searched: bool,
    answer: str,
    fetched_urls: Sequence[str],
    citation_checks: Sequence[Mapping[str, Any]],
    cited_page_texts: Sequence[str | None],
    latency_s: float | None,
    ttft_s: float | None,
    steps_s: Mapping[str, float],
    prompt_tokens: int,
    completion_tokens: int,
    base_url: str = "",
    error: str | None = None,
    passages: Sequence[str] = (),
    loop_cut: bool = False,
    question: str = "",
) -> QuestionScore:
    """Score one answered question.

    `fetched_urls` are the pages read successfully; `cited_page_texts` the text of the page
    behind each citation of the final answer (None where it could not be read).
    """
    supported, total = checker_citations(citation_checks)
    strict_hits, strict_total = strict_citations(cited_page_texts, answers)
    cited, sentences = citation_coverage(answer) if searched else (0, 0)
    return QuestionScore(
        id=id,
        decision_correct=decision_correct(searched, needs_search),
        # Not searching fetches nothing, so a question that needed search scores a miss.
        retrieval_hit=retrieval_hit(fetched_urls, gold_pages, base_url) if needs_search else None,
        context_hit=context_hit(passages, answers) if needs_search else None,
        retrieval_all_hit=(
            retrieval_all(fetched_urls, gold_pages, base_url) if needs_search else None
        ),
        answer_correct=answer_correct(answer, answers),
        language_match=language_match(question, answer) if question and not error else None,
        loop_cut=loop_cut,
        citations_supported=supported,
        citations_total=total,
        strict_hits=strict_hits,
        strict_total=strict_total,
        sentences_cited=cited,
        sentences_total=sentences,
        coverage_applies=searched,
        latency_s=latency_s,
        ttft_s=ttft_s,
        steps_s={step: float(s) for step, s in steps_s.items() if step != "total"},
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        pages_fetched=len(fetched_urls),
        error=error,
    )


def failed_question(
    id: str, needs_search: bool, answers: Sequence[str], gold_pages: Sequence[str], error: str
) -> QuestionScore:
    """A question whose run failed outright: it scores zero wherever a metric applies."""
    return QuestionScore(
        id=id,
        decision_correct=None,
        retrieval_hit=False if needs_search and gold_pages else None,
        context_hit=False if needs_search and any(a.strip() for a in answers) else None,
        retrieval_all_hit=False if needs_search and gold_pages else None,
        answer_correct=False if any(a.strip() for a in answers) else None,
        error=error,
    )


# --- overall ----------------------------------------------------------------------------------


@dataclass
class Summary:
    """The overall figures; `to_json` has the keys of the `eval --json` line first."""

    n: int
    errors: int
    decision_accuracy: float | None
    retrieval_recall: float | None
    context_recall: float | None
    answer_accuracy: float | None
    citation_precision: float | None
    strict_citation_precision: float | None
    citation_coverage: float | None
    latency_median_s: float | None
    latency_p95_s: float | None
    ttft_median_s: float | None
    prompt_tokens_mean: float | None
    completion_tokens_mean: float | None
    pages_fetched_mean: float | None
    loops: int = 0  # answers whose repetition loop was cut
    model_citations: int = 0  # citations the model wrote itself (base of citation_precision)
    strict_checked: int = 0  # final-answer citations of questions with answers (strict base)
    steps_mean_s: dict[str, float] = field(default_factory=dict)
    retrieval_recall_all: float | None = None  # share of questions with every gold page read
    answer_language_match: float | None = None  # share of answers in the question's language

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        ordered = {key: data.pop(key) for key in JSON_KEYS} | data
        return {key: _round(value) for key, value in ordered.items()}


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _round(item) for key, item in value.items()}
    return value


def _accuracy(values: Iterable[bool | None]) -> float | None:
    return _mean(float(v) for v in values if v is not None)


def summarize(scores: Sequence[QuestionScore]) -> Summary:
    """Overall figures of `scores`. Failed questions count as wrong in accuracy metrics
    (decision included) but add no times or tokens."""
    ran = [s for s in scores if s.error is None or s.latency_s is not None]
    latencies = [s.latency_s for s in ran if s.latency_s is not None]
    ttfts = [s.ttft_s for s in ran if s.ttft_s is not None]
    steps: dict[str, list[float]] = {}
    for s in ran:
        for step, seconds in s.steps_s.items():
            steps.setdefault(step, []).append(seconds)
    coverage = [s for s in scores if s.coverage_applies]
    return Summary(
        n=len(scores),
        errors=sum(1 for s in scores if s.error is not None),
        decision_accuracy=_accuracy(
            s.decision_correct if s.decision_correct is not None else False for s in scores
        ),
        retrieval_recall=_accuracy(s.retrieval_hit for s in scores),
        context_recall=_accuracy(s.context_hit for s in scores),
        retrieval_recall_all=_accuracy(s.retrieval_all_hit for s in scores),
        answer_accuracy=_accuracy(s.answer_correct for s in scores),
        answer_language_match=_accuracy(s.language_match for s in scores),
        citation_precision=_share(
            sum(s.citations_supported for s in scores), sum(s.citations_total for s in scores)
        ),
        strict_citation_precision=_share(
            sum(s.strict_hits for s in scores), sum(s.strict_total for s in scores)
        ),
        citation_coverage=_share(
            sum(s.sentences_cited for s in coverage), sum(s.sentences_total for s in coverage)
        ),
        latency_median_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        ttft_median_s=percentile(ttfts, 50),
        prompt_tokens_mean=_mean(s.prompt_tokens for s in ran) if ran else None,
        completion_tokens_mean=_mean(s.completion_tokens for s in ran) if ran else None,
        pages_fetched_mean=_mean(s.pages_fetched for s in ran) if ran else None,
        loops=sum(1 for s in scores if s.loop_cut),
        model_citations=sum(s.citations_total for s in scores),
        strict_checked=sum(s.strict_total for s in scores),
        steps_mean_s={step: sum(v) / len(v) for step, v in sorted(steps.items())},
    )


JSON_KEYS = (
    "n",
    "decision_accuracy",
    "retrieval_recall",
    "context_recall",
    "answer_accuracy",
    "citation_precision",
    "citation_coverage",
    "latency_median_s",
    "latency_p95_s",
    "ttft_median_s",
    "prompt_tokens_mean",
    "completion_tokens_mean",
)
