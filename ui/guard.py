"""What Gradio serves, bound to the logged-in user (ASGI middleware in front of Gradio's app).

Gradio trusts a `session_hash` from whoever sends it: the live answer of a queue stream
(`queue/data?session_hash=`), its cancel (`/cancel`, which needs no login), the heartbeat that
ends a session, a session's component state (`deep_link`). The hash travels in URLs, so it
is not a secret. Here the first request that names a session hash binds it to its sender's
user; a later request for that hash from anyone else is refused (403). With accounts, a
request that names a session hash without a login is refused (401).

Files under the owned folder (`ui.owned`) are served only to their owner (404 to anyone
else, as if absent), and so are the files a user uploads through Gradio's `/upload` until the
question takes them (recorded from its answer). Every file Gradio serves is marked inert:
`nosniff` and a sandboxing Content-Security-Policy, so even a file that slipped through
cannot run script in the app's origin.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.owned import owner_key, owner_key_of

log = logging.getLogger(__name__)

API_PREFIX = "/gradio_api"
FILE_ROUTES = (f"{API_PREFIX}/file=", f"{API_PREFIX}/file/")
#: Routes whose path names a session hash: /heartbeat/<hash>, /stream/<hash>/<run>/...
SESSION_PATH_ROUTES = {"heartbeat": 2, "stream": 5}
INERT_FILE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"sandbox; default-src 'none'; img-src 'self'; media-src 'self'"),
]
MAX_JSON_BODY = 32 * 1024 * 1024
SESSIONS_KEPT = 100_000


class SessionOwners:
    """Which user each session hash belongs to (the first to use it); the oldest are
    forgotten past `capacity`."""

    def __init__(self, capacity: int = SESSIONS_KEPT) -> None:
        self.capacity = capacity
        self._owners: OrderedDict[str, str | None] = OrderedDict()

    def claim(self, session_hash: str, user: str | None) -> bool:
        """True if `session_hash` is `user`'s (now or from before)."""
        if session_hash not in self._owners:
            self._owners[session_hash] = user
            if len(self._owners) > self.capacity:
                self._owners.popitem(last=False)
            return True
        self._owners.move_to_end(session_hash)
        return self._owners[session_hash] == user


class UploadOwners:
    """The users who uploaded each file of Gradio's upload folder (the same content uploaded
    twice is one file); the oldest are forgotten past `capacity`."""

    def __init__(self, capacity: int = SESSIONS_KEPT) -> None:
        self.capacity = capacity
        self._owners: OrderedDict[str, set[str | None]] = OrderedDict()

    def add(self, path: str, user: str | None) -> None:
        self._owners.setdefault(path, set()).add(user)
        self._owners.move_to_end(path)
        if len(self._owners) > self.capacity:
            self._owners.popitem(last=False)

    def refused(self, path: str, user: str | None) -> bool:
        owners = self._owners.get(path)
        return owners is not None and user not in owners


class UserGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.owners = SessionOwners()
        self.uploads = UploadOwners()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        full_path = scope.get("path", "") if scope["type"] == "http" else ""
        if API_PREFIX not in full_path:
            await self.app(scope, receive, send)
            return
        path = full_path[full_path.find(API_PREFIX) :]  # after any root path
        gradio = scope.get("app")
        user = logged_in_user(gradio, scope)
        anonymous_refused = login_required(gradio) and user is None
        if path.startswith(FILE_ROUTES):
            await self.file(scope, receive, send, path, user)
            return
        if path.rstrip("/") == f"{API_PREFIX}/upload" and scope["method"] == "POST":
            await self.app(scope, receive, self.recording_uploads(send, user))
            return
        if scope["method"] == "POST" and _is_json(scope):
            body, receive = await _read_body(receive)
            if body is None:
                await refuse(scope, receive, send, 413, "Request body too large")
                return
            hashes = [*session_hashes(scope, path), *_body_session_hash(body)]
        else:
            hashes = session_hashes(scope, path)
        for session_hash in hashes:
            if anonymous_refused:
                await refuse(scope, receive, send, 401, "Not authenticated")
                return
            if not self.owners.claim(session_hash, user):
                log.warning(
                    "session of another user refused: %s %s (%s)", scope["method"], path, user
                )
                await refuse(scope, receive, send, 403, "This session belongs to another user")
                return
        await self.app(scope, receive, send)

    async def file(
        self, scope: Scope, receive: Receive, send: Send, path: str, user: str | None
    ) -> None:
        from gradio.utils import abspath

        requested = path.split("file=", 1)[1] if "file=" in path else path.split("/file/", 1)[1]
        try:
            resolved = abspath(requested).resolve()
        except (OSError, ValueError):
            resolved = None
        key = owner_key_of(resolved) if resolved else None
        if (key is not None and key != owner_key(user or "")) or (
            resolved and self.uploads.refused(str(resolved), user)
        ):
            log.warning("file of another user refused (%s)", user)
            await refuse(scope, receive, send, 404, "Not found")
            return

        async def inert(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in {name for name, _ in INERT_FILE_HEADERS}
                ]
                message = {**message, "headers": headers + INERT_FILE_HEADERS}
            await send(message)

        await self.app(scope, receive, inert)

    def recording_uploads(self, send: Send, user: str | None) -> Send:
        """`send` that records the files of a successful upload as `user`'s."""
        chunks: list[bytes] = []
        status = 0

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self.record_uploads(b"".join(chunks), user)
            await send(message)

        return recording

    def record_uploads(self, body: bytes, user: str | None) -> None:
        from gradio.utils import abspath

        try:
            paths = json.loads(body)
        except ValueError:
            return
        for path in paths if isinstance(paths, list) else []:
            if isinstance(path, str):
                self.uploads.add(str(abspath(path).resolve()), user)


def logged_in_user(gradio: Any, scope: Scope) -> str | None:
    """The user of Gradio's login cookie (`access-token-<id>`), as Gradio's routes see it."""
    tokens = getattr(gradio, "tokens", None)
    cookie_id = getattr(gradio, "cookie_id", None)
    if not tokens or cookie_id is None:
        return None
    cookies = _cookies(scope)
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    user = tokens.get(token) if token else None
    return str(user) if user is not None else None


def login_required(gradio: Any) -> bool:
    return (
        getattr(gradio, "auth", None) is not None
        or getattr(gradio, "auth_dependency", None) is not None
    )


def session_hashes(scope: Scope, path: str) -> list[str]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    found = list(query.get("session_hash", []))
    parts = path.split(f"{API_PREFIX}/", 1)[1].split("/")
    least = SESSION_PATH_ROUTES.get(parts[0])
    if least is not None and len(parts) >= least and scope["method"] == "GET":
        found.append(parts[1])
    return found


def _body_session_hash(body: bytes) -> list[str]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    value = data.get("session_hash") if isinstance(data, dict) else None
    return [value] if isinstance(value, str) else []


def _is_json(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    return headers.get(b"content-type", b"").split(b";")[0].strip() == b"application/json"


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole request body (None past `MAX_JSON_BODY`), and a `receive` that hands it on
    to the app again."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_JSON_BODY:
            return None, receive
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _cookies(scope: Scope) -> dict[str, str]:
    """The cookies as Gradio reads them (Starlette's parser)."""
    cookies: dict[str, str] = {}
    for name, value in scope.get("headers") or []:
        if name == b"cookie":
            cookies.update(cookie_parser(value.decode("latin-1")))
    return cookies


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    await PlainTextResponse(text, status_code=status)(scope, receive, send)
