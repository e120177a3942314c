"""A cap on HTTP request bodies, enforced while they arrive (ASGI middleware).

Clients of the API send images and voice clips inline as base64, so without a cap one request
could make the server buffer gigabytes. A declared `Content-Length` over the cap is refused at
once; a chunked body is counted as it streams in and refused as soon as it passes the cap.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_message(limit: int) -> str:
    return (
        f"request body too large: the limit is {limit / 1_000_000:g} MB "
        "(MEGREZ_MAX_UPLOAD_MB)"
    )


class BodySizeLimit:
    """Answers 413 with OpenAI's error shape to any request whose body passes `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI lets HTTPException through body parsing to its handler (413).
                    raise HTTPException(413, too_large_message(self.limit))
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(_error_body(too_large_message(self.limit))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _error_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": "too_large"}}
