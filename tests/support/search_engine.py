"""A search engine on loopback that speaks SearXNG's JSON API and records what it is asked.

Tests that must see the queries the agent sends (several per question, fused) point
`searxng:URL` at it; every query finds the same result list, pages served by the same server.
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
def serve_search_engine(pages: dict[str, tuple[str, str]]) -> Iterator[SearchEngine]:
    """`pages`: path -> (title, HTML); each is a result of every search, in this order."""
    engine = SearchEngine("")

    def search(handler: BaseHTTPRequestHandler) -> None:
        engine.queries += parse_qs(urlsplit(handler.path).query).get("q", [])
        results = [
            {"url": f"{engine.base_url}{path}", "title": title, "content": ""}
            for path, (title, _html) in pages.items()
        ]
        send(handler, json.dumps({"results": results}).encode(), "application/json")

    def page(html: str) -> Callable[[BaseHTTPRequestHandler], None]:
        return lambda handler: send(handler, html.encode())

    routes = {"/search": search} | {path: page(html) for path, (_t, html) in pages.items()}
    with serve_routes(routes) as base_url:
        engine.base_url = base_url
        yield engine
