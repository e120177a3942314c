"""CLI commands of the retrieval layer: `index`, `search` and `fetch`.

`cli` calls `register(subparsers, settings_from_args)`; each handler returns an
exit code and raises `MegrezSearchError` for user errors (printed as one line, exit 2).
Run standalone for debugging: `python -m cli.retrieval search QUERY`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

from cli import SettingsFromArgs
from core.errors import MegrezSearchError
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, settings_from_args: SettingsFromArgs) -> None:
    """Add the `index`, `search` and `fetch` subcommands."""
    index = subparsers.add_parser(
        "index",
        help="build or update a local search index (local:NAME) from a website or folder, "
        "or fill a user's collection of files",
        description="Crawl a website (same host, links and sitemap.xml) or read a folder of "
        ".html/.md/.txt files into a local index usable as the search provider local:NAME. "
        "Running it again updates changed pages only. With --collection, read a file or a "
        "folder of PDF, DOCX, Markdown, text, HTML and image files into a private collection "
        "of one user, which they attach to their chats.",
    )
    index.add_argument("source", metavar="SOURCE", help="root URL of a website, or a folder")
    target = index.add_mutually_exclusive_group(required=True)
    target.add_argument("--name", help="index name, used as local:NAME")
    target.add_argument("--collection", help="fill this collection of --user's with the files")
    index.add_argument(
        "--user", help="account whose collection it is (default: the install without accounts)"
    )
    index.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    index.set_defaults(handler=lambda args: run_index(args, settings_from_args(args)))

    search = subparsers.add_parser(
        "search",
        help="search the web or a local index and print the results",
        description="Run the configured search provider chain (MEGREZ_SEARCH) or --provider.",
    )
    search.add_argument("query", metavar="QUERY", nargs="+", help="what to search for")
    search.add_argument(
        "--provider",
        help="provider chain, e.g. 'ddg', 'searxng:http://localhost:8080', 'local:docs' "
        "or several comma-separated (default: MEGREZ_SEARCH)",
    )
    search.add_argument("--limit", type=_positive_int, default=10, help="results to show (10)")
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.set_defaults(handler=lambda args: run_search(args, settings_from_args(args)))

    fetch = subparsers.add_parser(
        "fetch",
        help="fetch one page and print its cleaned main text as Markdown",
        description="Fetch a URL through the same guarded, cached path the agent uses.",
    )
    fetch.add_argument("url", metavar="URL")
    fetch.add_argument("--json", action="store_true", help="print JSON with the page's fields")
    fetch.set_defaults(handler=lambda args: run_fetch(args, settings_from_args(args)))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_index(args: argparse.Namespace, settings: Settings) -> int:
    if args.collection is not None:
        from cli.collections import fill_collection

        return fill_collection(args.source, args.collection, args.user, settings)
    if args.user is not None:
        raise MegrezSearchError("--user goes with --collection (a local:NAME index is shared)")
    from retrieval.index import build_index
    from wiring import retrieval_policy

    policy = retrieval_policy(settings)
    stats = build_index(
        args.source, args.name, policy.indexes, policy.crawl, progress=not args.no_progress
    )
    for url, reason in stats.failures[:20]:
        print(f"  not indexed: {url}: {reason}", file=sys.stderr)
    if len(stats.failures) > 20:
        print(f"  ... and {len(stats.failures) - 20} more", file=sys.stderr)
    print(stats.summary())
    print(f"search it with: megrez-search search --provider local:{args.name} QUERY")
    return 0 if stats.pages else 1


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.search import make_search_provider
    from wiring import retrieval_policy

    query = " ".join(args.query).strip()
    policy = retrieval_policy(settings).search
    provider = make_search_provider(policy.chain, policy)
    outcome = provider.search(query, args.limit)
    if args.json:
        print(
            json.dumps(
                {
                    "query": query,
                    "provider": outcome.provider,
                    "failures": outcome.failures,
                    "results": [dataclasses.asdict(result) for result in outcome.results],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for failure in outcome.failures:
            print(f"warning: {failure}", file=sys.stderr)
        if outcome.provider:
            print(f"{len(outcome.results)} results from {outcome.provider}\n")
        for result in outcome.results:
            print(f"{result.rank}. {result.title}\n   {result.url}")
            if result.snippet:
                print(f"   {result.snippet}")
            print()
    if not outcome.results:
        print("no results: every provider failed or found nothing", file=sys.stderr)
        return 1
    return 0


def run_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.guard import validate_url
    from retrieval.pooled_fetch import fetch_pages_sync
    from retrieval.types import FetchFailure
    from wiring import retrieval_policy

    if not args.url.startswith("file:"):
        validate_url(args.url)  # a malformed URL is a user error (exit 2), not a fetch failure
    [item] = fetch_pages_sync([args.url], retrieval_policy(settings).fetch)
    if isinstance(item, FetchFailure):
        if args.json:
            print(json.dumps({"url": item.url, "error": item.reason}, ensure_ascii=False, indent=2))
        print(f"fetch failed: {item.url}: {item.reason}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(dataclasses.asdict(item), ensure_ascii=False, indent=2))
    else:
        print(item.text)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point, for debugging before/without `cli`."""
    from core.errors import MegrezSearchError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="megrez-search")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers, lambda args: get_settings(search=getattr(args, "provider", None)))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except MegrezSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
