"""Hostile pages on a loopback server, all fetched in ONE `fetch_pages` call.

Each case must end in a clear per-page error while the good pages of the same call arrive.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from retrieval.pooled_fetch import fetch_pages_sync
from retrieval.types import FetchFailure, Page
from tests.support.policies import policy_for
from tests.support.servers import redirect, send, serve_routes

ARTICLE = """<!doctype html><html lang="en"><head><title>{title}</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/contact">Contact</a></nav>
<article><h1>{title}</h1>
<p>{title} explains how the lighthouse keepers of the northern coast kept their lamps burning
through the long winter nights, trimming wicks every four hours and logging each passing ship.</p>
<p>The keepers wrote down the weather, the state of the sea and the names of vessels, and those
logbooks are now the best record we have of nineteenth century coastal traffic.</p>
</article><footer>Copyright 2026 Example Corp. All rights reserved.</footer></body></html>"""

RUSSIAN = (
    "Съешь же ещё этих мягких французских булок, да выпей чаю. "
    "Широкая электрификация южных губерний даст мощный толчок подъёму сельского хозяйства. "
    "В чащах юга жил бы цитрус? Да, но фальшивый экземпляр! "
)
LEGACY = (
    "<html><head><title>Старая страница</title></head><body><article><h1>Старая страница</h1>"
    + "".join(f"<p>{RUSSIAN}</p>" for _ in range(6))
    + "</article></body></html>"
).encode("cp1251")

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
FIFTY_MB = 50_000_000


class HugeBody:
    """Streams 50 MB without Content-Length and records how much the client let it send."""

    def __init__(self) -> None:
        self.sent = 0
        self.done = threading.Event()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = b"<p>" + b"x" * 65_530 + b"</p>"
        try:
            while self.sent < FIFTY_MB:
                handler.wfile.write(chunk)
                self.sent += len(chunk)
        finally:
            self.done.set()


def huge_declared(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(FIFTY_MB))
    handler.end_headers()
    handler.wfile.write(b"<html>" + b" " * 1000)


def trickle(handler: BaseHTTPRequestHandler) -> None:
    """One byte every 50 ms: never silent long enough for a read timeout."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100_000):
        handler.wfile.write(b"a")
        handler.wfile.flush()
        time.sleep(0.05)  # the server's behaviour under test, not test synchronisation


def endless(handler: BaseHTTPRequestHandler) -> None:
    step = int(handler.path.rsplit("/", 1)[-1])
    send(handler, b"", status=302, headers={"Location": f"/endless/{step + 1}"})


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def huge() -> HugeBody:
    return HugeBody()


@pytest.fixture
def hostile_server(huge: HugeBody) -> Iterator[str]:
    routes = {
        "/good/1": lambda h: send(h, ARTICLE.format(title="Lighthouse logs").encode()),
        "/good/2": lambda h: send(h, ARTICLE.format(title="Keeper diaries").encode()),
        "/redirect-private": redirect("http://10.0.0.1/admin"),
        "/redirect-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
        "/huge": huge,
        "/huge-declared": huge_declared,
        "/trickle": trickle,
        "/binary": lambda h: send(h, PNG, content_type="text/html; charset=utf-8"),
        "/legacy": lambda h: send(h, LEGACY, content_type="text/html"),
        "/loop-a": redirect("/loop-b"),
        "/loop-b": redirect("/loop-a"),
    }
    routes.update({f"/endless/{i}": endless for i in range(50)})
    with serve_routes(routes) as base_url:
        yield base_url


def test_hostile_pages_fail_one_by_one_while_good_pages_arrive(
    hostile_server: str, huge: HugeBody, tmp_path: Path
) -> None:
    policy = policy_for(
        data_dir=tmp_path, allow_hosts="127.0.0.1", fetch_deadline_s=3.0, read_timeout_s=10.0
    ).fetch
    base = hostile_server
    urls = {
        "good1": f"{base}/good/1",
        "private": f"{base}/redirect-private",
        "metadata": f"{base}/redirect-metadata",
        "huge": f"{base}/huge",
        "huge_declared": f"{base}/huge-declared",
        "trickle": f"{base}/trickle",
        "binary": f"{base}/binary",
        "legacy": f"{base}/legacy",
        "loop": f"{base}/loop-a",
        "endless": f"{base}/endless/0",
        "dead": f"http://127.0.0.1:{dead_port()}/",
        "good2": f"{base}/good/2",
    }
    results = dict(zip(urls, fetch_pages_sync(list(urls.values()), policy)))

    def reason(key: str) -> str:
        item = results[key]
        assert isinstance(item, FetchFailure), f"{key} should have failed: {item}"
        assert item.url == urls[key]
        return item.reason

    for key in ("good1", "good2"):
        page = results[key]
        assert isinstance(page, Page), page
        assert "lighthouse keepers" in page.text
        assert "All rights reserved" not in page.text and "About us" not in page.text
    assert results["good2"].title == "Keeper diaries"

    assert reason("private").startswith("blocked: private address 10.0.0.1")
    assert reason("metadata").startswith("blocked: cloud metadata address 169.254.169.254")
    assert reason("huge").startswith("too large: more than 5.0 MB")
    assert reason("huge_declared").startswith("too large: 50.0 MB declared")
    assert reason("trickle").startswith("timed out: the fetch deadline of 3 s passed")
    assert reason("binary").startswith("skipped: PNG image served as text/html")
    assert reason("loop").startswith("redirect loop:")
    assert reason("endless") == "too many redirects (more than 5)"
    assert reason("dead").startswith("connection failed: cannot connect to 127.0.0.1:")

    legacy = results["legacy"]
    assert isinstance(legacy, Page), legacy
    assert legacy.title == "Старая страница"
    assert "Съешь же ещё этих мягких французских булок" in legacy.text

    # Reading stopped at the cap: the server could not push anywhere near 50 MB.
    assert huge.done.wait(timeout=30)
    assert huge.sent < 20_000_000, huge.sent
