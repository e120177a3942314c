"""A search engine on loopback that speaks SearXNG's JSON API and records what it is asked.

Tests that must see the queries the agent sends (several per question, fused) point
`searxng:URL` at it; every query finds the same result list, pages served by the same server,
unless `finds(query)` names the paths a query finds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.support.servers import send, serve_routes


@dataclass
class SearchEngine:
    base_url: str
    queries: list[str] = field(default_factory=list)


@contextmanager
def serve_search_engine(
    pages: dict[str, tuple[str, str]], finds: Callable[[str], list[str]] | None = None
) -> Iterator[SearchEngine]:
    """`pages`: path -> (title, HTML); each is a result of every search, in this order, or of
    the searches `finds` gives its path for."""
    engine = SearchEngine("")

    def search(handler: BaseHTTPRequestHandler) -> None:
        asked = parse_qs(urlsplit(handler.path).query).get("q", [])
        engine.queries += asked
        paths = finds(asked[0] if asked else "") if finds else list(pages)
        results = [
            {"url": f"{engine.base_url}{path}", "title": pages[path][0], "content": ""}
            for path in paths
        ]
        send(handler, json.dumps({"results": results}).encode(), "application/json")

    def page(html: str) -> Callable[[BaseHTTPRequestHandler], None]:
        return lambda handler: send(handler, html.encode())

    routes = {"/search": search} | {path: page(html) for path, (_t, html) in pages.items()}
    with serve_routes(routes) as base_url:
        engine.base_url = base_url
        yield engine
