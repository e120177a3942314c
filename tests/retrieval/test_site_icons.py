"""A page's declared icon reaches its source card as a PNG data URI we wrote, fetched once
per site through the same guard; anything else about the icon just means no icon."""

from __future__ import annotations

import base64
import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from PIL import Image

from agent.nodes.retrieve import group_contexts
from agent.state import source_of
from retrieval import icons
from retrieval.icons import ICON_MAX_BYTES
from retrieval.passages import split_passages
from retrieval.pooled_fetch import fetch_pages_sync
from retrieval.types import Page
from tests.support.media import icon_bytes
from tests.support.policies import policy_for
from tests.support.servers import Route, redirect, send, serve_routes

PAGE = """<!doctype html><html lang="en"><head><title>Lighthouse logs - Harbour Notes</title>
<link rel="stylesheet" href="/style.css"><link rel="{rel}" href="{href}"></head><body>
<article><h1>Lighthouse logs</h1><p>The keepers wrote down the weather, the state of the sea
and the names of passing vessels every four hours through the long winter nights.</p>
<p>Those logbooks are now the best record of nineteenth century coastal traffic.</p>
</article></body></html>"""


def _noise_png() -> bytes:
    """A PNG over the icon cap: random pixels do not compress."""
    out = io.BytesIO()
    Image.frombytes("RGB", (160, 160), os.urandom(160 * 160 * 3)).save(out, format="PNG")
    assert len(out.getvalue()) > ICON_MAX_BYTES
    return out.getvalue()


def _serve(body: bytes, content_type: str, hits: list[str] | None = None) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        if hits is not None:
            hits.append(handler.path)
        send(handler, body, content_type=content_type)

    return route


def _page(rel: str = "icon", href: str = "/icon") -> Route:
    return _serve(PAGE.format(rel=rel, href=href).encode(), "text/html; charset=utf-8")


Fetch = Callable[[list[str]], list[Page]]


@pytest.fixture
def fetch(tmp_path: Path) -> Fetch:
    policy = policy_for(data_dir=tmp_path, allow_hosts="127.0.0.1").fetch

    def run(urls: list[str]) -> list[Page]:
        pages = fetch_pages_sync(urls, policy)
        assert all(isinstance(page, Page) for page in pages), pages
        return [page for page in pages if isinstance(page, Page)]

    return run


def test_a_declared_icon_reaches_the_source_once_per_site_and_never_the_model(fetch: Fetch) -> None:
    hits: list[str] = []
    routes = {
        "/a": _page(rel="shortcut icon", href="/favicon-here.ico"),
        "/b": _page(rel="icon", href="/favicon-here.ico"),
        "/none": _page(rel="apple-touch-icon", href="/favicon-here.ico"),
        "/favicon-here.ico": _serve(icon_bytes("ICO"), "image/x-icon", hits),
    }
    with serve_routes(routes) as base:
        pages = fetch([f"{base}/a"])
        pages += fetch([f"{base}/b"])
        # Served again from the page cache: the page that declared the icon keeps it, a page of
        # the same site that declared none still has none.
        again, none, none_again = fetch([f"{base}/a", f"{base}/none"]) + fetch([f"{base}/none"])
    assert again.from_cache and again.icon == pages[0].icon
    assert none_again.from_cache and none.icon is None and none_again.icon is None
    assert hits == ["/favicon-here.ico"]  # the second page of the site reused it
    for page in pages:
        assert page.icon is not None and page.icon.startswith("data:image/png;base64,")
        icon = Image.open(io.BytesIO(base64.b64decode(page.icon.split(",", 1)[1])))
        assert (icon.format, icon.size) == ("PNG", (32, 32))
        assert "data:" not in page.text and "favicon" not in page.text
    passages = [passage for page in pages for passage in split_passages(page)]
    contexts = group_contexts(passages, {page.url: page.icon for page in pages if page.icon})
    assert [context["icon"] for context in contexts] == [page.icon for page in pages]
    assert all("data:" not in context["text"] for context in contexts)
    assert source_of(contexts[0])["icon"] == pages[0].icon


@pytest.mark.parametrize(
    "icon",
    [
        _serve(
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        _serve(_noise_png(), "image/png"),
        _serve(b"<!doctype html><html><body>Not found</body></html>", "image/png"),
        redirect("http://10.0.0.1/favicon.png"),
    ],
    ids=["svg", "oversized", "html", "redirect-private"],
)
def test_a_hostile_or_broken_icon_means_no_icon_and_the_page_still_arrives(
    fetch: Fetch, icon: Route
) -> None:
    with serve_routes({"/page": _page(), "/icon": icon}) as base:
        (page,) = fetch([f"{base}/page"])
    assert page.icon is None
    assert "best record of nineteenth century" in page.text


def test_no_icon_is_guessed_when_the_page_declares_none(fetch: Fetch) -> None:
    hits: list[str] = []
    routes = {
        "/page": _page(rel="apple-touch-icon", href="/favicon.ico"),
        "/favicon.ico": _serve(icon_bytes("ICO"), "image/x-icon", hits),
    }
    with serve_routes(routes) as base:
        (page,) = fetch([f"{base}/page"])
    assert page.icon is None and hits == []


def test_an_icon_that_never_finishes_costs_the_page_nothing_but_its_icon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stalled icon would hold the page past the fetch deadline without its own timeout.
    monkeypatch.setattr(icons, "ICON_TIMEOUT_S", 0.3)
    policy = policy_for(
        data_dir=tmp_path, allow_hosts="127.0.0.1", fetch_deadline_s=3.0, read_timeout_s=10.0
    ).fetch
    release = threading.Event()

    def stalled(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        release.wait(30)

    with serve_routes({"/page": _page(), "/icon": stalled}) as base:
        try:
            (page,) = fetch_pages_sync([f"{base}/page"], policy)
        finally:
            release.set()
    assert isinstance(page, Page), page
    assert page.icon is None
    assert "best record of nineteenth century" in page.text


def test_fetchers_on_two_threads_fetch_one_sites_icon_at_once(fetch: Fetch) -> None:
    """Two questions at once (on two threads, their fetches on the process's I/O loop) asking
    for pages of one site while its icon is still downloading: neither page is lost and the
    icon is downloaded once."""
    first_icon_asked, second_page_served = threading.Event(), threading.Event()
    asked: list[str] = []

    def icon(handler: BaseHTTPRequestHandler) -> None:
        asked.append(handler.path)
        first_icon_asked.set()
        second_page_served.wait(10)  # the download is in flight while B's page arrives
        send(handler, icon_bytes("PNG"), content_type="image/png")

    def page_after_the_first_icon(handler: BaseHTTPRequestHandler) -> None:
        first_icon_asked.wait(10)
        _page()(handler)
        second_page_served.set()

    routes = {"/a": _page(), "/b": page_after_the_first_icon, "/icon": icon}
    with serve_routes(routes) as base, ThreadPoolExecutor(2) as pool:
        pages = list(pool.map(fetch, [[f"{base}/a"], [f"{base}/b"]]))
    assert [page.icon is not None for (page,) in pages] == [True, True]
    assert asked == ["/icon"]
