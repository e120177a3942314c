"""Accounts in the browser UI: Gradio's login page, and the user behind each event.

With accounts in the database the UI is launched with `auth=` (Gradio's own login page and
session cookie; a wrong password is refused there) and every handler reads the logged-in name
from its `gr.Request`. Without accounts there is no login and everyone is the local user (the
CLI allows that on loopback only). Accounts created while the UI runs take effect at restart.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from megrez_search.accounts import Accounts, UserLimits
from megrez_search.settings import Settings
from megrez_search.store import LOCAL_USER, Store

LOGIN_MESSAGE = "Sign in to Megrez Search (accounts: `megrez-search users add NAME`)."


def login_check(store: Store) -> Callable[[str, str], bool] | None:
    """The `auth` callable for `launch()`, or None when there are no accounts."""
    accounts = Accounts(store.database)
    return accounts.check_password if accounts.has_users() else None


def user_of(request: gr.Request | None) -> str:
    """The logged-in user of an event (the local user when there is no login)."""
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else LOCAL_USER


def ui_limits(settings: Settings) -> UserLimits:
    return UserLimits(settings.user_requests_per_minute, settings.user_concurrent_turns)
