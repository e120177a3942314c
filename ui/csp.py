"""A Content-Security-Policy on every response of the UI, as a small ASGI middleware.

The policy is what Gradio's page needs and no more: scripts from the app itself, the
page's own inline scripts by a per-response nonce (written into each `<script>` tag of an
HTML page), and our `head` script by its hash. No `'unsafe-inline'` and no `'unsafe-eval'`
for scripts: the page uses no `js=` event snippets, which Gradio runs with the
AsyncFunction constructor. Images only from the app or `data:`, so nothing an answer or a
page smuggles into the chat can load from another host; styles allow `'unsafe-inline'`
because Gradio sets styles inline (attributes and injected `<style>` elements).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import Any

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])")


def script_hash(source: str) -> str:
    """The CSP source that allows the inline script whose text is `source`."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def policy(nonce: str, script_hashes: Sequence[str] = ()) -> str:
    scripts = " ".join(["'self'", f"'nonce-{nonce}'", *script_hashes])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "media-src 'self' blob: data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


class ContentSecurityPolicy:
    """Adds the policy header to every HTTP response and the nonce to an HTML page's
    `<script>` tags (the page is buffered; streams and files pass through untouched)."""

    def __init__(self, app: ASGIApp, script_hashes: Sequence[str] = ()) -> None:
        self.app = app
        self.script_hashes = tuple(script_hashes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        header = policy(nonce, self.script_hashes).encode("latin-1")
        start: Message | None = None
        body: list[bytes] = []

        async def send_with_policy(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                headers.append((b"content-security-policy", header))
                message = {**message, "headers": headers}
                if not _is_html(headers):
                    await send(message)
                    return
                start = message  # held until the page is complete, to add the nonce
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"'.encode(), b"".join(body))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, send_with_policy)


def _is_html(headers: list[Any]) -> bool:
    return any(
        k.lower() == b"content-type" and v.lower().startswith(b"text/html") for k, v in headers
    )


def content_security_policy(script_sources: Sequence[str] = ()) -> Middleware:
    """The middleware for `launch(app_kwargs={"middleware": [...]})`; `script_sources` are
    the texts of the inline scripts the page adds itself (our `head` script)."""
    return Middleware(ContentSecurityPolicy, script_hashes=[script_hash(s) for s in script_sources])
