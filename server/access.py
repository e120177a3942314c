"""Who is asking `/v1`, and may they ask now: API keys (401) and per-user limits (429).

With no accounts in the database every request is the local user (zero-config; the CLI
refuses to listen beyond loopback then, see `accounts.exposure`). Once an account exists,
`/v1` needs `Authorization: Bearer msk_…`, and it keeps needing one for as long as the process
runs, even if every account is removed: a server that was closed never opens by itself (the
start-up check then decides again, at the next start). Errors use OpenAI's shape, so OpenAI
clients raise their `AuthenticationError` / `RateLimitError`.
"""

from __future__ import annotations

import logging

from fastapi import Header
from fastapi.responses import JSONResponse

from accounts import Accounts, LimitExceeded, Slot, UserLimits
from core.errors import MegrezSearchError
from core.settings import Settings
from store import LOCAL_USER, Store

log = logging.getLogger(__name__)


class AccessDenied(MegrezSearchError):
    def __init__(
        self, message: str, status: int, kind: str, code: str, retry_after_s: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.code = status, kind, code
        self.retry_after_s = retry_after_s


def denied_response(exc: AccessDenied) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    body = {"error": {"message": str(exc), "type": exc.kind, "param": None, "code": exc.code}}
    return JSONResponse(body, status_code=exc.status, headers=headers)


class Gate:
    def __init__(self, accounts: Accounts, limits: UserLimits) -> None:
        self.accounts = accounts
        self.limits = limits
        self._closed = accounts.has_users()

    @classmethod
    def of(cls, store: Store, settings: Settings) -> Gate:
        limits = UserLimits(
            settings.server.user_requests_per_minute, settings.server.user_concurrent_turns
        )
        return cls(Accounts(store.database), limits)

    def user(self, authorization: str | None = Header(None)) -> str:
        """A FastAPI dependency: the user of the request's API key, or 401."""
        if not self._closed:
            if not self.accounts.has_users():
                return LOCAL_USER
            self._closed = True  # for good: removing the last account must not open it
        scheme, _, token = (authorization or "").partition(" ")
        if not token.strip() or scheme.lower() != "bearer":
            raise AccessDenied(
                "missing API key: send 'Authorization: Bearer <key>' "
                "(create one with `megrez-search users key NAME`)",
                401,
                "invalid_request_error",
                "invalid_api_key",
            )
        user = self.accounts.user_for_key(token)
        if user is None:
            log.info("refused an unknown or revoked API key")
            raise AccessDenied(
                "incorrect API key provided", 401, "invalid_request_error", "invalid_api_key"
            )
        return user

    def slot(self, user: str) -> Slot:
        """A turn slot of `user`, or 429."""
        try:
            return self.limits.acquire(user)
        except LimitExceeded as exc:
            raise AccessDenied(
                str(exc), 429, "requests", "rate_limit_exceeded", exc.retry_after_s
            ) from exc
