"""Megrez Search as the browser's search engine: `/?q=…` asks in a new chat (`&deep=1` for
deep research, `&search=0` to answer without searching), and `/opensearch.xml` describes
that URL so browsers offer "Add Megrez Search".

The page's script (chrome.js) takes `q` out of the address bar at once (a reload does not
ask again) and keeps it in sessionStorage until the page has loaded, so a question asked
before signing in is asked after it (Gradio's login page reloads the same address). It then
hands the question to the hidden `#url-question` box as JSON, read here by `url_question`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPENSEARCH_PATH = "/opensearch.xml"
OPENSEARCH_TYPE = "application/opensearchdescription+xml"
SHORT_NAME = "Megrez Search"
MAX_URL_QUESTION = 2000  # characters; a longer `q` is cut (the message box takes the rest)

_HEAD = b"<head>"


@dataclass(frozen=True)
class UrlQuestion:
    text: str
    search: bool = True
    deep: bool = False


def url_question(payload: str | None) -> UrlQuestion | None:
    """The question the page's script handed over (`{"q", "search", "deep"}` as JSON), or
    None for anything else (an empty `q`, a payload that is not that JSON)."""
    try:
        data = json.loads(payload or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    text = str(data.get("q") or "").strip()[:MAX_URL_QUESTION]
    if not text:
        return None
    return UrlQuestion(text, search=data.get("search") is not False, deep=data.get("deep") is True)


def link_tag(root_path: str = "") -> str:
    """The `<link>` by which browsers find the description (autodiscovery)."""
    href = quoteattr(f"{root_path.rstrip('/')}{OPENSEARCH_PATH}")
    title = quoteattr(SHORT_NAME)
    return f'<link rel="search" type="{OPENSEARCH_TYPE}" title={title} href={href}>'


def opensearch_description(base_url: str) -> str:
    """The OpenSearch 1.1 description of `base_url/?q={searchTerms}`."""
    base = base_url.rstrip("/")
    template = quoteattr(f"{base}/?q={{searchTerms}}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">\n'
        f"  <ShortName>{escape(SHORT_NAME)}</ShortName>\n"
        "  <Description>Answers with numbered citations from Megrez Search</Description>\n"
        "  <InputEncoding>UTF-8</InputEncoding>\n"
        f'  <Url type="text/html" method="get" template={template}/>\n'
        "</OpenSearchDescription>\n"
    )


def base_url(scope: Scope) -> str:
    """The address the browser used for this app (scheme, Host header, root path)."""
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


class SearchEngine:
    """Serves `/opensearch.xml` (no login needed: it says only where to ask) and adds the
    autodiscovery `<link>` to the head of every HTML page, the login page included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == OPENSEARCH_PATH and scope.get("method") in ("GET", "HEAD"):
            await self._describe(scope, send)
            return
        start: Message | None = None
        body: list[bytes] = []
        link = link_tag(str(scope.get("root_path") or "")).encode()

        async def send_with_link(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if not _is_html(message.get("headers", [])):
                    await send(message)
                    return
                start = message  # held until the page is complete
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body).replace(_HEAD, _HEAD + link, 1)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, send_with_link)

    async def _describe(self, scope: Scope, send: Send) -> None:
        text = opensearch_description(base_url(scope)).encode("utf-8")
        headers = [
            (b"content-type", f"{OPENSEARCH_TYPE}; charset=utf-8".encode()),
            (b"content-length", str(len(text)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"" if scope.get("method") == "HEAD" else text
        await send({"type": "http.response.body", "body": body})


def _is_html(headers: list[Any]) -> bool:
    return any(
        k.lower() == b"content-type" and v.lower().startswith(b"text/html") for k, v in headers
    )


def search_engine() -> Middleware:
    return Middleware(SearchEngine)
