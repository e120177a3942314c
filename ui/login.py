"""Accounts in the browser UI: Gradio's login page, its sessions, and the user behind each event.

With accounts in the database the UI is launched with `auth=` (Gradio's own login page and
session cookie) and every handler reads the logged-in user from its `gr.Request`: the account's
immutable id (see accounts.users), never its name, so a name freed by
`users remove` and taken again reaches none of the old account's data. Without accounts there
is no login and everyone is the local user (the CLI allows that on loopback only). Accounts
created while the UI runs take effect at restart; one removed or given a new password while it
runs ends its sessions at their next request (`SessionTokens`).

Sign-ins are throttled per account and per client address (`LoginThrottle`); the address is
the connection's, or `X-Forwarded-For` as written by one of `MEGREZ_TRUSTED_PROXIES` (uvicorn
resolves it; `trust_forwarded_from` narrows what it trusts, by default loopback, to those).
A refused attempt is a 429 with `Retry-After` and the wait in its message; argon2 runs in
two threads of its own, off Gradio's event loop, so a flood of sign-ins does not slow other
users' pages.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import JSONResponse

from accounts import Accounts, UserLimits
from accounts.throttle import LoginThrottle, LoginThrottled
from accounts.users import Login
from core.settings import Settings
from store import LOCAL_USER, Store

log = logging.getLogger(__name__)

LOGIN_MESSAGE = "Sign in to Megrez Search (accounts: `megrez-search users add NAME`)."


def login_message(settings: Settings) -> str:
    """The login page's text. Gradio's form answers every refusal "Incorrect Credentials"
    (a throttled attempt's wait is only in its 429), so the page states the throttle."""
    server = settings.server
    return (
        f"{LOGIN_MESSAGE} After {server.login_free_failures} failed sign-ins, each further "
        f"attempt must wait: 1 s, doubling up to {server.login_max_wait_s:g} s. If a correct "
        "password is refused, wait a moment and sign in again."
    )


HASH_THREADS = 2  # argon2 at once; more would only take CPU from the users being served

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Set by `LoginGuard` for each request, read by the `auth` callable Gradio calls without it.
_client: ContextVar[str] = ContextVar("megrez_login_client", default="")
# Set by the `auth` callable on success, read where Gradio then records the session.
_verified: ContextVar[Login | None] = ContextVar("megrez_verified_login", default=None)


class SessionTokens(dict[str, str]):
    """Gradio's table of login sessions (cookie token -> user), bound to the account's id and
    session stamp when it is written and checked against the database whenever it is read."""

    def __init__(self, accounts: Accounts) -> None:
        super().__init__()
        self._accounts = accounts
        self._stamps: dict[str, str] = {}

    def __setitem__(self, token: str, name: str) -> None:
        login = _verified.get()
        if login is None or login.name != name:
            log.warning("a session was opened without a verified sign-in; not kept")
            return
        super().__setitem__(token, login.user_id)
        self._stamps[token] = login.stamp

    def get(self, token: Any, default: Any = None) -> Any:
        user_id = super().get(token)
        if user_id is None:
            return default
        if self._accounts.session_valid(user_id, self._stamps.get(token, "")):
            return user_id
        log.info("ended a session: its account was removed or its password changed")
        self.pop(token, None)
        return default

    def pop(self, token: Any, *default: Any) -> Any:
        self._stamps.pop(token, None)
        return super().pop(token, *default)

    def __delitem__(self, token: str) -> None:
        self._stamps.pop(token, None)
        super().__delitem__(token)


class LoginGuard:
    """The UI's sign-in: `check` is Gradio's `auth` callable, `middleware()` the piece of the
    app that knows each request's client, installs `SessionTokens` and answers a throttled
    attempt with 429."""

    def __init__(self, accounts: Accounts, throttle: LoginThrottle) -> None:
        self.accounts = accounts
        self.throttle = throttle
        self.tokens = SessionTokens(accounts)
        self._hashing = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="megrez-login")

    async def check(self, name: str, password: str) -> bool:
        """Gradio's `auth`: a coroutine function, so Gradio awaits it on its event loop."""
        client = _client.get()
        self.throttle.attempt(name, client)  # LoginThrottled: see `middleware`
        loop = asyncio.get_running_loop()
        login = await loop.run_in_executor(self._hashing, self.accounts.verify, name, password)
        if login is None:
            self.throttle.failed(name, client)
            log.info("failed sign-in as %r from %s", name[:64], client)
            return False
        self.throttle.succeeded(name, client)
        _verified.set(login)
        return True

    def middleware(self) -> Middleware:
        return Middleware(_GuardMiddleware, guard=self)


class _GuardMiddleware:
    def __init__(self, app: ASGIApp, guard: LoginGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gradio_app = scope.get("app")
        # Gradio builds its own empty table when it configures the app; ours replaces it
        # before the first request (and so before the first session) is handled.
        if gradio_app is not None and getattr(gradio_app, "tokens", None) is not self.guard.tokens:
            gradio_app.tokens = self.guard.tokens
        reset = _client.set(str((scope.get("client") or ("",))[0]))
        try:
            await self.app(scope, receive, send)
        except LoginThrottled as exc:
            log.info("throttled a sign-in from %s: %s", _client.get(), exc)
            response = JSONResponse(
                {"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.wait_s)}
            )
            await response(scope, receive, send)
        finally:
            _client.reset(reset)


def login_guard(store: Store, settings: Settings) -> LoginGuard | None:
    """The UI's sign-in, or None when there are no accounts (no login page)."""
    accounts = Accounts(store.database)
    if not accounts.has_users():
        return None
    throttle = LoginThrottle(settings.server.login_free_failures, settings.server.login_max_wait_s)
    return LoginGuard(accounts, throttle)


def trust_forwarded_from(settings: Settings) -> None:
    """Have uvicorn (which Gradio starts with its defaults) believe `X-Forwarded-For` from
    `MEGREZ_TRUSTED_PROXIES` only. Its default trusts any loopback peer, so on a host with a
    local proxy, or for anyone who can connect from the host itself, a made-up header would
    choose the address the login throttle counts."""
    os.environ["FORWARDED_ALLOW_IPS"] = settings.server.trusted_proxies


def user_of(request: gr.Request | None) -> str:
    """The logged-in user of an event (the local user when there is no login)."""
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else LOCAL_USER


def session_of(request: gr.Request | None) -> str:
    """The page's Gradio session ("" outside a page event)."""
    return str(getattr(request, "session_hash", None) or "")


def ui_limits(settings: Settings) -> UserLimits:
    return UserLimits(
        settings.server.user_requests_per_minute, settings.server.user_concurrent_turns
    )
