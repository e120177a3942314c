"""Retrieval speed, as ratios measured in one run on loopback servers:

1. concurrency: fetching + cleaning 8 pages whose server delays each by a different amount
   (0.1 .. 0.8 s) vs the slowest page alone (target: at most 1.3x);
2. cache: a page-cache hit vs a miss (fetch + clean) of the same page (target: at least 50x);
3. extraction: our cleaning path vs bare `trafilatura.extract` on the same pages (target: at
   most 1.1x);
4. a fetch step on the process's I/O loop with its pooled client (`fetch_pages_sync`) vs one
   with an event loop and a client of its own, as every step had before (target: no slower).

With `--rerank-eval` it also compares BM25 against BM25 + all-MiniLM-L6-v2 reranking on the dev
questions (needs python3.11-doc; crawls the docs into a temporary index unless `--data-dir`
holds a `local:docs` index of them). Usage:

    .venv/bin/python -m benchmarks.bench_retrieval [--repeats 5] [--rerank-eval]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import trafilatura

from core.settings import Settings, get_settings
from retrieval.cache import PageCache
from retrieval.clean import clean_document
from retrieval.fetch import Fetcher, fetch_pages
from retrieval.pooled_fetch import fetch_pages_sync
from retrieval.types import Page
from wiring import retrieval_policy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.servers import send, serve_directory, serve_routes

DOCS = Path("/usr/share/doc/python3.11/html")
DELAYS = [0.1 * (i + 1) for i in range(8)]
PAGES = [
    "library/textwrap.html",
    "library/pprint.html",
    "library/timeit.html",
    "library/zoneinfo.html",
    "library/tomllib.html",
    "library/bisect.html",
    "library/heapq.html",
    "library/functools.html",
]


def _sample_pages() -> list[bytes]:
    if DOCS.exists():
        return [(DOCS / name).read_bytes() for name in PAGES]
    # Without the docs: synthetic articles of similar size.
    para = (
        "<p>" + "The lighthouse keepers logged every passing ship and the weather. " * 30 + "</p>"
    )
    return [
        f"<html><body><article><h1>Page {i}</h1>{para * 20}</article></body></html>".encode()
        for i in range(8)
    ]


def _time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_concurrency(bodies: list[bytes], repeats: int, data_dir: Path) -> tuple[float, float]:
    def delayed(body: bytes, delay: float):
        def route(handler: BaseHTTPRequestHandler) -> None:
            time.sleep(delay)  # the slow server being simulated
            send(handler, body)

        return route

    routes = {
        f"/page/{i}": delayed(body, delay) for i, (body, delay) in enumerate(zip(bodies, DELAYS))
    }
    policy = retrieval_policy(
        Settings(data_dir=data_dir, allow_hosts="127.0.0.1", page_cache_ttl_s=0)
    ).fetch
    with serve_routes(routes) as base:
        urls = [f"{base}/page/{i}" for i in range(8)]
        check = fetch_pages_sync(urls, policy)
        assert all(isinstance(p, Page) for p in check), check
        slowest = _time(lambda: fetch_pages_sync([urls[-1]], policy), repeats)
        together = _time(lambda: fetch_pages_sync(urls, policy), repeats)
    return slowest, together


def bench_fetch_step(bodies: list[bytes], repeats: int, data_dir: Path) -> tuple[float, float]:
    """(pooled s, own loop and client s): median of one 3-page fetch step, uncached, the two
    ways alternating."""

    def serving(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
        return lambda handler: send(handler, body)

    routes = {f"/step/{i}": serving(body) for i, body in enumerate(bodies)}
    policy = retrieval_policy(
        Settings(data_dir=data_dir, allow_hosts="127.0.0.1", page_cache_ttl_s=0)
    ).fetch
    pooled, own = [], []
    with serve_routes(routes) as base:
        urls = [f"{base}/step/{i}" for i in range(3)]
        fetch_pages_sync(urls, policy)  # the pooled client exists before the first timing
        for _ in range(max(repeats, 1) * 4):
            for way, times in (
                (lambda: fetch_pages_sync(urls, policy), pooled),
                (lambda: asyncio.run(fetch_pages(urls, policy)), own),
            ):
                started = time.perf_counter()
                pages = way()
                times.append(time.perf_counter() - started)
                assert all(isinstance(p, Page) for p in pages), pages
    return statistics.median(pooled), statistics.median(own)


def bench_cache(repeats: int, data_dir: Path) -> tuple[float, float, float]:
    """(miss s, hit s, hit s through fetch_pages_sync) for one docs page."""
    policy = retrieval_policy(Settings(data_dir=data_dir, allow_hosts="127.0.0.1")).fetch
    root = DOCS if DOCS.exists() else Path(tempfile.mkdtemp())
    misses, hits = [], []
    with serve_directory(root) as base:
        url = f"{base}/{PAGES[-1]}" if DOCS.exists() else base + "/"

        async def one_round(i: int) -> None:
            cache = PageCache(data_dir / f"bench-cache-{i}.sqlite", ttl_s=3600)
            async with Fetcher(policy, cache=cache) as fetcher:
                started = time.perf_counter()
                miss = await fetcher.fetch_page(url)
                misses.append(time.perf_counter() - started)
                started = time.perf_counter()
                hit = await fetcher.fetch_page(url)
                hits.append(time.perf_counter() - started)
            assert isinstance(miss, Page) and not miss.from_cache
            assert isinstance(hit, Page) and hit.from_cache and hit.text == miss.text
            cache.close()

        for i in range(repeats):
            asyncio.run(one_round(i))
        fetch_pages_sync([url], policy)  # fill the user-level cache
        via_api = _time(lambda: fetch_pages_sync([url], policy), repeats)
    return statistics.median(misses), statistics.median(hits), via_api


def bench_extraction(bodies: list[bytes], repeats: int) -> tuple[float, float]:
    def ours() -> None:
        for i, body in enumerate(bodies):
            clean_document(body, "text/html", f"http://127.0.0.1/{i}.html")

    def bare() -> None:
        for i, body in enumerate(bodies):
            trafilatura.extract(body, url=f"http://127.0.0.1/{i}.html", output_format="markdown")

    ours(), bare()  # warm up lazy imports and caches
    # Interleaved, best of N: the least disturbed run of each on a shared machine.
    ours_times, bare_times = [], []
    for _ in range(repeats):
        ours_times.append(_time(ours, 1))
        bare_times.append(_time(bare, 1))
    return min(ours_times), min(bare_times)


def rerank_eval(data_dir: Path | None, questions: Path) -> str:
    """BM25 vs BM25 + rerank on the dev questions: where the first passage holding an answer is."""
    from retrieval.index import build_index
    from retrieval.index_store import search_index
    from retrieval.query import keyword_query
    from retrieval.rank import rank_passages

    rows = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row["needs_search"]]
    with serve_directory(DOCS) as base:
        work = data_dir or Path(tempfile.mkdtemp())
        policy = retrieval_policy(
            Settings(data_dir=work, allow_hosts="127.0.0.1", page_cache_ttl_s=0)
        )
        if data_dir is None:
            build_index(base + "/", "docs", policy.indexes, policy.crawl, progress=False)
        with sqlite3.connect(work / "indexes" / "docs.sqlite") as db:
            indexed_base = db.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()[0]
        lines = [
            "| ranking | answer in selected passages | MRR of first answer passage | s/question |",
            "|---|---|---|---|",
        ]
        for rerank in (False, True):
            found, reciprocal, seconds = 0, 0.0, []
            for row in rows:
                question = " ".join(
                    [turn["content"] for turn in row.get("history", []) if turn["role"] == "user"]
                    + [row["question"]]
                )
                hits = search_index("docs", keyword_query(question), 5, policy.indexes)
                # The index may come from a server on another port: serve its paths from ours.
                urls = [base + "/" + hit.url.removeprefix(indexed_base) for hit in hits]
                pages = [p for p in fetch_pages_sync(urls, policy.fetch) if isinstance(p, Page)]
                started = time.perf_counter()
                chosen = rank_passages(row["question"], pages, replace(policy.rank, rerank=rerank))
                seconds.append(time.perf_counter() - started)
                position = next(
                    (
                        i
                        for i, p in enumerate(chosen)
                        if any(a.lower() in p.text.lower() for a in row["answers"])
                    ),
                    None,
                )
                if position is not None:
                    found += 1
                    reciprocal += 1 / (position + 1)
            lines.append(
                f"| {'BM25 + MiniLM rerank' if rerank else 'BM25'} | {found}/{len(rows)} | "
                f"{reciprocal / len(rows):.3f} | {statistics.median(seconds):.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rerank-eval", action="store_true")
    parser.add_argument("--data-dir", type=Path, help="reuse a data dir holding local:docs")
    parser.add_argument(
        "--questions",
        type=Path,
        default=get_settings().evaluation.eval_questions,
        help="question file of --rerank-eval (default: MEGREZ_EVAL_QUESTIONS)",
    )
    args = parser.parse_args(argv)
    if args.rerank_eval and args.questions is None:
        parser.error("--rerank-eval needs --questions FILE (or MEGREZ_EVAL_QUESTIONS)")
    bodies = _sample_pages()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        slowest, together = bench_concurrency(bodies, args.repeats, data_dir)
        miss, hit, hit_api = bench_cache(args.repeats, data_dir)
        pooled, own = bench_fetch_step(bodies, args.repeats, data_dir)
    ours, bare = bench_extraction(bodies, args.repeats)
    conc_ratio, cache_ratio, extract_ratio = together / slowest, miss / hit, ours / bare
    lines = [
        "| measure | figures | ratio | target |",
        "|---|---|---|---|",
        (
            f"| 8 delayed pages (0.1-0.8 s) vs slowest alone | {together:.3f} s vs {slowest:.3f} s "
            f"| {conc_ratio:.2f}x | <= 1.3x {'ok' if conc_ratio <= 1.3 else 'MISSED'} |"
        ),
        (
            f"| cache miss vs hit (same page, one Fetcher) | {miss * 1000:.1f} ms vs "
            f"{hit * 1000:.2f} ms | {cache_ratio:.0f}x | >= 50x "
            f"{'ok' if cache_ratio >= 50 else 'MISSED'} |"
        ),
        (
            f"| cache hit through fetch_pages_sync (pooled client and cache) | "
            f"{hit_api * 1000:.2f} ms | {miss / hit_api:.0f}x vs miss | - |"
        ),
        (
            f"| a 3-page fetch step, uncached: pooled on the I/O loop vs own loop and client | "
            f"{pooled * 1000:.1f} ms vs {own * 1000:.1f} ms | {pooled / own:.2f}x | <= 1.0x "
            f"{'ok' if pooled <= own else 'MISSED'} |"
        ),
        (
            f"| our cleaning vs bare trafilatura.extract(markdown), {len(bodies)} pages "
            f"| {ours:.3f} s vs {bare:.3f} s | {extract_ratio:.2f}x | <= 1.1x "
            f"{'ok' if extract_ratio <= 1.1 else 'MISSED'} |"
        ),
    ]
    report = "\n".join(lines)
    if args.rerank_eval:
        report += "\n\nRerank on the dev questions (needs_search, top-5 local:docs pages):\n\n"
        report += rerank_eval(args.data_dir, args.questions)
    print(report)
    return report


if __name__ == "__main__":
    main()
