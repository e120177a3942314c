"""Local indexes for real: crawl a loopback site (links, sitemap, robots.txt, nofollow), index a
folder, and re-index with only changed pages rewritten."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from retrieval.errors import LocalIndexError
from retrieval.index import build_index
from retrieval.index_store import search_index
from retrieval.pooled_fetch import fetch_pages_sync
from retrieval.types import Page
from tests.support.policies import policy_for
from tests.support.servers import send, serve_routes


def html(title: str, body: str, links: str = "", head: str = "") -> str:
    return (
        f"<html lang='en'><head><title>{title}</title>{head}</head><body><nav>{links}</nav>"
        f"<article><h1>{title}</h1><p>{body}</p><p>{body}</p></article></body></html>"
    )


class Site:
    """A small website whose pages tests can change; answers ETag validators with 304."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, str]] = {}  # path -> (content type, body)
        self.requests: list[str] = []
        self.not_modified = 0

    def route(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        self.requests.append(path)
        if path not in self.pages:
            send(handler, b"not found", content_type="text/plain", status=404)
            return
        content_type, body = self.pages[path]
        etag = f'"{hashlib.md5(body.encode()).hexdigest()}"'
        if handler.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            send(handler, b"", status=304, headers={"ETag": etag})
            return
        send(handler, body.encode(), content_type=content_type, headers={"ETag": etag})


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    site = Site()
    paths = [
        "/",
        "/robots.txt",
        "/sitemap.xml",
        "/lighthouses.html",
        "/tides.html",
        "/orphan.html",
        "/private/secret.html",
        "/nofollowed.html",
        "/noindex.html",
        "/notes.txt",
        "/archive.zip",
        "/gone.html",
    ]
    with serve_routes({path: site.route for path in paths}) as base_url:
        site.pages = {
            "/": (
                "text/html",
                html(
                    "Coastal notes",
                    "Welcome to the coastal notes of the harbour master.",
                    "<a href='/lighthouses.html'>Lighthouses</a> "
                    "<a href='tides.html#top'>Tides</a> "
                    "<a href='/private/secret.html'>Private</a> "
                    "<a rel='nofollow' href='/nofollowed.html'>x</a> "
                    "<a href='/noindex.html'>Index page</a> <a href='/notes.txt'>Notes</a> "
                    "<a href='/archive.zip'>Archive</a> <a href='/gone.html'>Gone</a> "
                    "<a href='https://elsewhere.example/'>Elsewhere</a>",
                ),
            ),
            "/robots.txt": ("text/plain", "User-agent: *\nDisallow: /private/\n"),
            "/sitemap.xml": (
                "application/xml",
                (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<url><loc>{base_url}/orphan.html</loc></url></urlset>"
                ),
            ),
            "/lighthouses.html": (
                "text/html",
                html(
                    "Lighthouses", "Keepers trimmed the lamp wicks every four hours through winter."
                ),
            ),
            "/tides.html": (
                "text/html",
                html("Tides", "Spring tides follow the new and the full moon."),
            ),
            "/orphan.html": (
                "text/html",
                html("Shipwrecks", "The schooner Mary sank off the sandbank in 1881."),
            ),
            "/private/secret.html": (
                "text/html",
                html("Secret", "Robots must not read this page."),
            ),
            "/nofollowed.html": (
                "text/html",
                html("Nofollow", "Reached only through a nofollow link."),
            ),
            "/noindex.html": (
                "text/html",
                html(
                    "Hub",
                    "A hub page that asks not to be indexed.",
                    "<a href='/tides.html'>Tides</a>",
                    "<meta name='robots' content='noindex'>",
                ),
            ),
            "/notes.txt": (
                "text/plain",
                "Harbour notes\n\nThe harbour closes during storms from the north.",
            ),
            "/gone.html": (
                "text/html",
                html("Old page", "This page about the old pier will disappear."),
            ),
        }
        yield site, base_url


def test_crawl_reindex_and_search(site: tuple[Site, str], tmp_path: Path) -> None:
    server, base = site
    policy = policy_for(data_dir=tmp_path, allow_hosts="127.0.0.1", crawl_concurrency=2)
    stats = build_index(base + "/", "coast", policy.indexes, policy.crawl, progress=False)
    assert stats.added == 6 and stats.failures == [], stats.failures
    indexed = {
        r.url.removeprefix(base)
        for r in search_index(
            "coast", "harbour tides lamp schooner pier moon notes", 20, policy.indexes
        )
    }
    assert {
        "/",
        "/lighthouses.html",
        "/tides.html",
        "/orphan.html",
        "/notes.txt",
        "/gone.html",
    } <= indexed
    assert "/orphan.html" in indexed  # found through sitemap.xml only
    assert "/private/secret.html" not in server.requests  # robots.txt honoured
    assert "/nofollowed.html" not in server.requests  # rel=nofollow honoured
    assert "/archive.zip" not in server.requests  # binaries never fetched
    assert (
        "/noindex.html" in server.requests and "/noindex.html" not in indexed
    )  # followed, not indexed

    top = search_index("coast", "When do spring tides happen?", 3, policy.indexes)[0]
    assert top.url == base + "/tides.html" and top.rank == 1
    assert "Spring tides" in top.snippet and top.title == "Tides"

    # Change one page, delete another: only those are rewritten; the rest answer 304.
    server.pages["/tides.html"] = (
        "text/html",
        html("Tides", "Neap tides come at the quarter moons."),
    )
    del server.pages["/gone.html"]
    server.not_modified = 0
    again = build_index(base + "/", "coast", policy.indexes, policy.crawl, progress=False)
    assert (again.added, again.updated, again.removed) == (0, 1, 1)
    assert again.unchanged == 4 and server.not_modified == 4
    assert again.failures == [(base + "/gone.html", "HTTP 404 Not Found")]
    assert search_index("coast", "neap quarter", 1, policy.indexes)[0].url == base + "/tides.html"
    assert search_index("coast", "old pier", 5, policy.indexes) == []
    with pytest.raises(LocalIndexError, match="built from"):
        build_index("http://127.0.0.1:9/", "coast", policy.indexes, policy.crawl, progress=False)


def test_folder_index_updates_changed_files_only(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Anchors\n\nShips drop anchor in the outer roads.\n")
    (folder / "sub" / "b.html").write_text(
        html("Buoys", "Red buoys mark the port side of the channel.")
    )
    (folder / "c.txt").write_text("Charts\n\nCharts show depths in metres at low water.\n")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    policy = policy_for(data_dir=tmp_path / "data")

    first = build_index(str(folder), "kb", policy.indexes, policy.crawl, progress=False)
    assert (first.added, first.updated, first.unchanged) == (3, 0, 0)
    hit = search_index("kb", "port side buoys", 1, policy.indexes)[0]
    assert hit.url == (folder / "sub" / "b.html").as_uri() and hit.title == "Buoys"

    (folder / "a.md").write_text("# Anchors\n\nAnchors hold best in sand and mud.\n")
    os.utime(folder / "c.txt")  # touched, same content: hash says unchanged
    (folder / "sub" / "b.html").unlink()
    second = build_index(str(folder), "kb", policy.indexes, policy.crawl, progress=False)
    assert (second.added, second.updated, second.unchanged, second.removed) == (0, 1, 1, 1)
    assert search_index("kb", "sand mud", 1, policy.indexes)[0].url.endswith("/a.md")

    # Indexed files can be "fetched" (from the index), other local files cannot.
    indexed, other = fetch_pages_sync(
        [(folder / "a.md").as_uri(), (tmp_path / "secret.txt").as_uri()], policy.fetch
    )
    assert isinstance(indexed, Page) and "sand and mud" in indexed.text
    assert other.reason.startswith("blocked: file URLs are read only from local indexes")


def test_bad_sources_and_names(tmp_path: Path) -> None:
    policy = policy_for(data_dir=tmp_path)
    with pytest.raises(LocalIndexError, match="give the root URL of a website"):
        build_index(str(tmp_path / "missing"), "x", policy.indexes, policy.crawl, progress=False)
    with pytest.raises(LocalIndexError, match="invalid index name"):
        build_index(str(tmp_path), "../x", policy.indexes, policy.crawl, progress=False)


def test_a_long_reference_page_is_found_by_its_section(tmp_path: Path) -> None:
    # Short pages that mention "tideline" in passing win the whole-page ranking (BM25 divides
    # by length); the long reference page whose one section is about it wins on sections.
    folder = tmp_path / "kb"
    folder.mkdir()
    for n in range(6):
        (folder / f"note{n}.md").write_text(
            f"# Note {n}\n\nWe walked along the tideline at height {n}. The tideline was quiet.\n"
        )
    entries = [
        f"## Entry {n}\n\n"
        + " ".join(f"word{n}x{k} filler text about other things" for k in range(40))
        for n in range(30)
    ]
    entries[17] = "## Entry 17\n\nThe tideline function measures the tideline height in metres."
    (folder / "reference.md").write_text("# Reference\n\n" + "\n\n".join(entries) + "\n")
    policy = policy_for(data_dir=tmp_path / "data")
    build_index(str(folder), "kb", policy.indexes, policy.crawl, progress=False)

    found = [hit.url for hit in search_index("kb", "tideline height", 3, policy.indexes)]
    assert (folder / "reference.md").as_uri() in found
