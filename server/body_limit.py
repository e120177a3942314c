"""A cap on HTTP request bodies, enforced while they arrive (ASGI middleware).

Clients of the API send images and voice clips inline as base64, so without a cap one request
could make the server buffer gigabytes. A declared `Content-Length` over the cap is refused
before a byte of the body is read; a chunked body is counted as it streams in and refused as
soon as it passes the cap. The refusal is an `HTTPException(413)`, which FastAPI lets through
body parsing to the app's error handler, so it has the same shape as every other API error.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Refuses (413) any request whose body is, or grows, larger than `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        received = int(declared) if declared.isdigit() and int(declared) > self.limit else 0

        async def counted() -> Message:
            nonlocal received
            if received > self.limit:  # declared too large: refuse before reading the body
                raise self._too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise self._too_large()
            return message

        await self.app(scope, counted, send)

    def _too_large(self) -> HTTPException:
        return HTTPException(
            413,
            f"request body too large: the limit is {self.limit / 1_000_000:g} MB "
            "(MEGREZ_MAX_UPLOAD_MB)",
        )
