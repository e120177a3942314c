"""Context recall by passage budget, without the model: how small the answer prompt can be.

On a CPU the answer step's time is the model reading its prompt (the 1.5B default: about 1.1
s per 100 tokens on two cores), so the passage budget sets the latency. This replays what the
generic dialect's agent does for each search question of the dev set: the query it writes
(no model involved), the fused search of the corpus index, the fetched pages, and the
passages within each budget as the model sees them (`numbered_contexts`, the rank step's
own code). A question counts when a gold answer string is in those passages (the eval's
`context_recall`); retrieval recall is a gold page among the fetched pages. The ids of the
questions missed are listed, so a change can be read question by question. Tokens are
counted with the tokenizer of the GGUF given (default: the embedded default). A question in
another script than the sources (the Chinese set) is searched with the model's translation,
which needs the model: `--queries` gives the queries an eval run recorded (`eval --report`'s
records.jsonl, or the log of `eval-all`); without them such a question is searched with its
own words, as the agent would without a model. Any question set runs over its own corpus,
e.g. the git manual:

    .venv/bin/python -m benchmarks.bench_context --questions ../shared/eval/dev.jsonl \\
        [--corpus /usr/share/doc/python3.11/html] [--budgets 500,700,800,900,1000]
        [--rerank on|off] [--spans on|off] [--data-dir DIR] [--gguf PATH]
    .venv/bin/python -m benchmarks.bench_context --questions ../shared/eval/dev-git.jsonl \\
        --corpus /usr/share/doc/git-doc --budgets 900
    .venv/bin/python -m benchmarks.bench_context --questions ../shared/eval/dev-zh.jsonl \\
        --queries eval-all.log --budgets 450,600
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.nodes.retrieve import numbered_contexts
from agent.query_writer import build_query, follow_up_context, rank_query
from benchmarks.eval_args import add_question_arguments
from core.settings import Settings
from evaluation.dataset import Question, load_questions
from evaluation.metrics import context_hit, retrieval_hit
from evaluation.runner import RECORD_LOG_PREFIX, corpus_environment
from retrieval.multiquery import query_variants, search_fused
from retrieval.pooled_fetch import fetch_pages_sync
from retrieval.scripts import needs_translation
from retrieval.search import make_search_provider
from retrieval.types import Page
from wiring import retrieval_policy


def _default_gguf() -> Path:
    """The embedded default's GGUF, whose tokenizer the agent counts the budget with; the
    tiny model's where the default is not installed (5% more tokens on English docs)."""
    from runtime import ladder

    default = ladder.rung(ladder.PREFIX)
    if default.is_installed():
        return ladder.gguf_path(default, Settings().store.models_dir, progress=False)
    return ladder.smollm2_path()


def _token_counter(gguf: Path) -> Callable[[str], int]:
    import llama_cpp

    vocab = llama_cpp.Llama(str(gguf), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False))


@dataclass
class BudgetFigures:
    """One passage budget's outcome over a question set."""

    shown: int = 0  # questions whose answer was in the passages shown
    questions: int = 0
    tokens: int = 0  # passage tokens, summed
    missed: list[str] = field(default_factory=list)  # ids of the questions not shown


@dataclass
class ContextFigures:
    retrieved: int = 0  # questions with a gold page among the fetched pages
    with_gold: int = 0
    not_retrieved: list[str] = field(default_factory=list)
    budgets: dict[int, BudgetFigures] = field(default_factory=dict)


def recorded_queries(path: Path) -> dict[str, str]:
    """Question id -> the first query an eval run searched, from its records: one JSON object
    a line (`records.jsonl`) or log lines holding "eval record {…}"."""
    queries: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        start = line.find(RECORD_LOG_PREFIX)
        text = line[start + len(RECORD_LOG_PREFIX) :] if start >= 0 else line
        if not text.lstrip().startswith("{"):
            continue
        record = json.loads(text)
        if record.get("queries"):
            queries[record["id"]] = record["queries"][0]
    return queries


def measure(
    questions: list[Question],
    settings: Settings,
    budgets: list[int],
    count: Callable[[str], int],
    base_url: str = "",
    translations: dict[str, str] | None = None,
) -> ContextFigures:
    """Retrieval recall, and per budget: answers shown, passage tokens, missed ids.
    `translations` (question id -> query) stand in for the model's translation of a
    question in another script than the sources'."""
    policy = retrieval_policy(settings)
    provider = make_search_provider(settings.retrieval.search, policy.search)
    figures = ContextFigures(budgets={budget: BudgetFigures() for budget in budgets})
    for question in questions:
        if not question.needs_search or not any(a.strip() for a in question.answers):
            continue
        earlier = [turn.content for turn in question.history if turn.role == "user"]
        answers = [turn.content for turn in question.history if turn.role == "assistant"]
        # Only a question the agent translates has its query from the model.
        own_script = not needs_translation(question.question)
        translated = None if own_script else (translations or {}).get(question.id)
        query = build_query(
            question.question, translated, earlier, settings.agent.max_query_words, answers
        )
        context = follow_up_context(question.question, earlier, answers)
        variants = query_variants(
            query, question.question, settings.retrieval.search_queries, context
        )
        urls = [
            hit.url for hit in search_fused(provider, variants, settings.retrieval.pages).results
        ]
        pages = [
            p
            for p in fetch_pages_sync(urls[: settings.retrieval.pages], policy.fetch)
            if isinstance(p, Page)
        ]
        found = retrieval_hit([page.url for page in pages], question.gold_pages, base_url)
        if found is not None:
            figures.with_gold += 1
            figures.retrieved += found
            if not found:
                figures.not_retrieved.append(question.id)
        for budget in budgets:
            rank = replace(policy.rank, context_tokens=budget)
            ranked_by = rank_query(query, question.question, settings.agent.max_query_words)
            texts = [c["text"] for c in numbered_contexts(ranked_by, pages, rank, count)]
            row = figures.budgets[budget]
            shown = bool(context_hit(texts, question.answers))
            row.shown += shown
            row.questions += 1
            row.tokens += sum(count(text) for text in texts)
            if not shown:
                row.missed.append(question.id)
    return figures


def report(name: str, figures: ContextFigures, settings: Settings) -> str:
    """The figures as Markdown: a table by budget, then the missed question ids."""
    n = figures.with_gold
    heading = (
        f"Context recall by passage budget, {name}, search questions "
        f"(rerank {'on' if settings.retrieval.rerank else 'off'}, spans "
        f"{'on' if settings.retrieval.passage_spans else 'off'}); retrieval recall "
        f"{figures.retrieved}/{n} = {figures.retrieved / max(n, 1):.2f}:"
    )
    lines = [
        heading,
        "",
        "| budget (tokens) | answer in the passages shown | passage tokens / question |",
        "|---:|---:|---:|",
    ]
    for budget, row in figures.budgets.items():
        share = row.shown / max(row.questions, 1)
        tokens = row.tokens / max(row.questions, 1)
        lines.append(f"| {budget} | {row.shown}/{row.questions} = {share:.2f} | {tokens:.0f} |")
    lines += ["", f"- gold page not fetched: {', '.join(figures.not_retrieved) or 'none'}"]
    for budget, row in figures.budgets.items():
        lines.append(f"- answer not shown at {budget} tokens: {', '.join(row.missed) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_question_arguments(parser)
    parser.add_argument("--budgets", default="500,700,800,900,1000")
    parser.add_argument("--data-dir", type=Path, help="reuse this data dir's corpus index")
    parser.add_argument("--gguf", type=Path, help="tokenizer to count with (default: embedded)")
    parser.add_argument(
        "--queries", type=Path, help="an eval run's records: its translated queries are searched"
    )
    parser.add_argument(
        "--rerank", choices=("on", "off"), help="semantic rerank (default: MEGREZ_RERANK)"
    )
    parser.add_argument(
        "--spans",
        choices=("on", "off"),
        help="sentences and rows, not whole passages (default: MEGREZ_PASSAGE_SPANS)",
    )
    args = parser.parse_args(argv)
    budgets = sorted({int(b) for b in args.budgets.split(",")})
    count = _token_counter(args.gguf or _default_gguf())
    questions = load_questions(args.questions)
    translations = recorded_queries(args.queries) if args.queries else None  # before indexing
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=args.data_dir or Path(tmp), page_cache_ttl_s=0)
        if args.rerank:
            base = base.replace(rerank=args.rerank == "on")
        if args.spans:
            base = base.replace(passage_spans=args.spans == "on")
        with corpus_environment(base, args.corpus, progress=False) as (settings, corpus):
            figures = measure(questions, settings, budgets, count, corpus.base_url, translations)
    text = report(args.questions.name, figures, settings)
    print(text)
    return text


if __name__ == "__main__":
    main()
