"""Context recall by passage budget, without the model: how small the answer prompt can be.

On a CPU the answer step's time is the model reading its prompt (the 1.5B default: about 1.1
s per 100 tokens on two cores), so the passage budget sets the latency. This replays what the
generic dialect's agent does for each search question of the dev set: the query it writes
(no model involved), the fused search of the corpus index, the fetched pages, and the
passages within each budget as the model sees them (`numbered_contexts`, the rank step's
own code). A question counts when a gold answer string is in those passages (the eval's
`context_recall`). Tokens are counted with the tokenizer of the GGUF given (default: the
embedded default). Usage:

    .venv/bin/python -m benchmarks.bench_context --questions ../shared/eval/dev.jsonl \\
        [--corpus /usr/share/doc/python3.11/html] [--budgets 500,700,800,900,1000]
        [--data-dir DIR] [--gguf PATH]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from megrez_search.agent.nodes.retrieve import numbered_contexts
from megrez_search.agent.query_writer import build_query
from megrez_search.agent.retrieval_policy import retrieval_policy
from megrez_search.retrieval.fetch import fetch_pages_sync
from megrez_search.retrieval.multiquery import query_variants, search_fused
from megrez_search.retrieval.search import make_search_provider
from megrez_search.retrieval.types import Page

from benchmarks.eval_args import add_question_arguments
from megrez_search.evaluation.dataset import Question, load_questions
from megrez_search.evaluation.metrics import context_hit
from megrez_search.evaluation.runner import corpus_environment
from megrez_search.settings import Settings


def _token_counter(gguf: Path) -> Callable[[str], int]:
    import llama_cpp

    vocab = llama_cpp.Llama(str(gguf), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False))


def measure(
    questions: list[Question], settings: Settings, budgets: list[int], count: Callable[[str], int]
) -> dict[int, tuple[int, int, float]]:
    """budget -> (questions whose answer was shown, questions, mean prompt tokens of passages)."""
    policy = retrieval_policy(settings)
    provider = make_search_provider(settings.search, policy.search)
    found = {budget: [0, 0, 0] for budget in budgets}
    for question in questions:
        if not question.needs_search or not any(a.strip() for a in question.answers):
            continue
        earlier = [turn.content for turn in question.history if turn.role == "user"]
        answers = [turn.content for turn in question.history if turn.role == "assistant"]
        query = build_query(question.question, None, earlier, settings.max_query_words, answers)
        variants = query_variants(query, question.question, settings.search_queries)
        urls = [hit.url for hit in search_fused(provider, variants, settings.pages).results]
        pages = [
            p for p in fetch_pages_sync(urls[: settings.pages], policy.fetch) if isinstance(p, Page)
        ]
        for budget in budgets:
            rank = replace(policy.rank, context_tokens=budget)
            texts = [c["text"] for c in numbered_contexts(query, pages, rank, count)]
            row = found[budget]
            row[0] += bool(context_hit(texts, question.answers))
            row[1] += 1
            row[2] += sum(count(text) for text in texts)
    return {b: (hit, n, tokens / max(n, 1)) for b, (hit, n, tokens) in found.items()}


def main(argv: list[str] | None = None) -> str:
    from megrez_search.runtime.registry import embedded_gguf_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_question_arguments(parser)
    parser.add_argument("--budgets", default="500,700,800,900,1000")
    parser.add_argument("--data-dir", type=Path, help="reuse this data dir's corpus index")
    parser.add_argument("--gguf", type=Path, help="tokenizer to count with (default: embedded)")
    args = parser.parse_args(argv)
    budgets = sorted({int(b) for b in args.budgets.split(",")})
    count = _token_counter(args.gguf or embedded_gguf_path())
    questions = load_questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=args.data_dir or Path(tmp), page_cache_ttl_s=0)
        with corpus_environment(base, args.corpus, progress=False) as (settings, _):
            figures = measure(questions, settings, budgets, count)
    lines = [
        f"Context recall by passage budget, {args.questions.name}, search questions:",
        "",
        "| budget (tokens) | answer in the passages shown | passage tokens / question |",
        "|---:|---:|---:|",
    ]
    for budget in budgets:
        hit, n, tokens = figures[budget]
        lines.append(f"| {budget} | {hit}/{n} = {hit / max(n, 1):.2f} | {tokens:.0f} |")
    report = "\n".join(lines)
    print(report)
    return report


if __name__ == "__main__":
    main()
