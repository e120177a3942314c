"""Acceptance on the real docs: the dev questions find their gold page; fetch drops boilerplate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.settings import Settings
from retrieval.query import keyword_query
from retrieval.search import make_search_provider
from tests.support.dev_set import dev_set
from tests.support.docs_index import run_cli
from wiring import retrieval_policy

pytestmark = pytest.mark.slow


def single_turn_search_questions() -> list[dict]:
    rows = [json.loads(line) for line in dev_set().read_text().splitlines() if line.strip()]
    return [row for row in rows if row["needs_search"] and not row.get("history")]


def test_gold_page_in_top5_for_at_least_nine_in_ten_dev_questions(
    docs_index: tuple[Settings, str], docs_server: str
) -> None:
    settings, name = docs_index
    provider = make_search_provider(f"local:{name}", retrieval_policy(settings).search)
    # The acceptance criterion names the dev set's first ten single-turn search questions;
    # the shared set has grown since, and its later questions are scored by `eval`.
    questions = single_turn_search_questions()[:10]
    assert len(questions) == 10
    misses = []
    for row in questions:
        outcome = provider.search(keyword_query(row["question"]), 5)
        assert outcome.provider == f"local:{name}", outcome.failures
        paths = [result.url.removeprefix(docs_server + "/") for result in outcome.results]
        if not set(paths) & set(row["gold_pages"]):
            misses.append((row["id"], keyword_query(row["question"]), paths))
    assert len(misses) <= len(questions) // 10, misses


def test_cli_search_json_reports_provider_and_ranks(docs_index: tuple[Settings, str]) -> None:
    settings, name = docs_index
    result = run_cli(
        "search",
        "--provider",
        f"local:{name}",
        "--json",
        "--limit",
        "3",
        "textwrap",
        "wrap",
        "width",
        data_dir=settings.store.data_dir,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["provider"] == f"local:{name}"
    assert [r["rank"] for r in payload["results"]] == [1, 2, 3]
    assert payload["results"][0]["url"].endswith("/library/textwrap.html")
    assert payload["results"][0]["snippet"]


def test_cli_fetch_returns_main_text_without_navigation(docs_server: str, tmp_path: Path) -> None:
    result = run_cli("fetch", f"{docs_server}/library/functools.html", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("# `functools` — Higher-order functions")
    assert "maxsize=128" in text  # the body, down to the signatures
    assert "## `partial` Objects" in text  # headings kept as Markdown
    for boilerplate in (
        "Navigation",
        "Previous topic",
        "Next topic",
        "This Page",
        "Report a Bug",
        "Show Source",
        "Quick search",
        "modules |",
        "Copyright",
        "Theme",
    ):
        assert boilerplate not in text, boilerplate
    assert "¶" not in text  # Sphinx permalink signs


def test_cli_fetch_json_and_guard(docs_server: str, tmp_path: Path) -> None:
    url = f"{docs_server}/library/textwrap.html"
    result = run_cli("fetch", "--json", url, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert page["url"] == url and page["content_type"] == "text/html"
    assert page["title"].startswith("textwrap")
    assert page["language"] == "en"
    assert "width" in page["text"]
    # Without MEGREZ_ALLOW_HOSTS the loopback server is refused, with a reason, exit 1.
    refused = run_cli("fetch", url, data_dir=tmp_path / "other", env={"MEGREZ_ALLOW_HOSTS": ""})
    assert refused.returncode == 1
    assert "blocked: loopback address 127.0.0.1" in refused.stderr
    # A malformed URL is a user error: one line, exit 2.
    bad = run_cli("fetch", "notaurl", data_dir=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:")


def test_reindex_of_unchanged_docs_rewrites_nothing(
    docs_index: tuple[Settings, str], docs_server: str
) -> None:
    """A second `index` run re-crawls the site.

    Last-Modified answers 304, so nothing is re-extracted.
    """
    settings, name = docs_index
    result = run_cli(
        "index",
        docs_server + "/",
        "--name",
        name,
        "--no-progress",
        data_dir=settings.store.data_dir,
    )
    assert result.returncode == 0, result.stderr
    summary = result.stdout.splitlines()[0]
    assert " (0 new, 0 changed, " in summary and " 0 removed" in summary, summary
    pages = int(summary.split(": ", 1)[1].split(" pages", 1)[0])
    assert pages > 500 and f"{pages} unchanged" in summary
