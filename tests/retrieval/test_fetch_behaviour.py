"""Fetching: order, streaming as pages arrive, cache hits without network, sync wrapper."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from retrieval.fetch import fetch_pages, iter_pages
from retrieval.policy import GuardPolicy
from retrieval.pooled_fetch import fetch_pages_sync
from retrieval.types import FetchFailure, Page
from tests.support.policies import policy_for
from tests.support.servers import send, serve_routes

BODY = (
    "<html><head><title>{0}</title></head>"
    "<body><article><h1>{0}</h1><p>{1}</p></article></body></html>"
)
TEXT = "Keepers trimmed the lamp wicks every four hours and logged each passing ship. " * 5


class Gate:
    """A page held back until the test opens the gate: ordering without sleeps."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.hits = 0

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        self.hits += 1
        self.open.wait(timeout=30)
        send(handler, BODY.format("Slow", TEXT).encode())


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def counted() -> dict[str, int]:
    return {"fast": 0}


@pytest.fixture
def server(gate: Gate, counted: dict[str, int]) -> Iterator[str]:
    def fast(handler: BaseHTTPRequestHandler) -> None:
        counted["fast"] += 1
        send(handler, BODY.format("Fast", TEXT).encode())

    def notes(handler: BaseHTTPRequestHandler) -> None:
        send(handler, b"# Notes\n\nPlain *markdown* stays as is.", content_type="text/markdown")

    with serve_routes(
        {
            "/slow": gate,
            "/fast": fast,
            "/notes.md": notes,
            "/missing": lambda h: send(h, b"gone", status=404),
        }
    ) as base:
        yield base


@pytest.mark.anyio
async def test_iter_pages_yields_each_page_as_it_arrives(
    server: str, gate: Gate, tmp_path: Path
) -> None:
    policy = policy_for(data_dir=tmp_path, allow_hosts="127.0.0.1", page_cache_ttl_s=0).fetch
    stream = iter_pages([f"{server}/slow", f"{server}/fast"], policy)
    first = await stream.__anext__()
    assert isinstance(first, Page) and first.title == "Fast"  # did not wait for the slow one
    gate.open.set()
    second = await stream.__anext__()
    assert isinstance(second, Page) and second.title == "Slow"
    await stream.aclose()


@pytest.mark.anyio
async def test_results_keep_input_order_and_types(server: str, gate: Gate, tmp_path: Path) -> None:
    gate.open.set()
    policy = policy_for(data_dir=tmp_path, allow_hosts="127.0.0.1").fetch
    urls = [f"{server}/missing", f"{server}/notes.md", f"{server}/slow", f"{server}/notes.md"]
    results = await fetch_pages(urls, policy)
    assert [r.url for r in results] == urls
    assert isinstance(results[0], FetchFailure) and results[0].reason == "HTTP 404 Not Found"
    assert isinstance(results[1], Page) and results[1].content_type == "text/markdown"
    assert (
        results[1].text == "# Notes\n\nPlain *markdown* stays as is."
        and results[1].title == "Notes"
    )
    assert results[3] is results[1]  # a repeated URL is fetched once


def test_cache_hit_costs_no_network(server: str, counted: dict[str, int], tmp_path: Path) -> None:
    policy = policy_for(data_dir=tmp_path, allow_hosts="127.0.0.1").fetch
    [first] = fetch_pages_sync([f"{server}/fast"], policy)
    [second] = fetch_pages_sync([f"{server}/fast"], policy)
    assert isinstance(first, Page) and not first.from_cache
    assert isinstance(second, Page) and second.from_cache and second.text == first.text
    assert counted["fast"] == 1
    # A page cached while 127.0.0.1 was trusted is refused once it no longer is.
    [refused] = fetch_pages_sync([f"{server}/fast"], replace(policy, guard=GuardPolicy()))
    assert isinstance(refused, FetchFailure) and refused.reason.startswith("blocked: loopback")


@pytest.mark.anyio
async def test_sync_wrapper_works_inside_a_running_loop(server: str, tmp_path: Path) -> None:
    policy = policy_for(data_dir=tmp_path, allow_hosts="127.0.0.1").fetch
    [page] = fetch_pages_sync([f"{server}/fast"], policy)  # e.g. called from a notebook
    assert isinstance(page, Page) and page.title == "Fast"
