"""Accounts in a real browser (Playwright, Debian chromium): log in, private past chats.

`megrez-search ui` runs as a real process with accounts alice and bob; its model is the
stand-in OpenAI-style server. Two browser contexts log in side by side: each sees only their
own chats, cannot open the other's (even with the other's thread id in their browser
storage), and a wrong password is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accounts import Accounts
from core.settings import Settings
from store import open_database
from tests.support.page import ask, log_in, shot
from tests.support.processes import megrez_process
from tests.support.sidebar import chat_entries, listed_chats
from tests.support.standin_model import serve_standin_model

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("login-ui")
    settings = Settings(data_dir=folder / "data")
    database = open_database(settings.store)
    for name, password in PASSWORDS.items():
        Accounts(database).add(name, password)
    database.close()
    with serve_standin_model() as model:
        env = {"MEGREZ_MODEL": model.spec}
        with megrez_process(["ui"], settings, "/", folder / "ui.log", env) as base:
            yield base


def past_chats(page: Any) -> list[str]:
    expect(chat_entries(page)).to_have_count(1)  # each user here has one chat
    return listed_chats(page)


def test_two_users_side_by_side_see_only_their_own_chats(browser: Any, ui_url: str) -> None:
    alice = log_in(browser, ui_url, "alice", PASSWORDS["alice"])
    bob = log_in(browser, ui_url, "bob", PASSWORDS["bob"])
    for page in (alice, bob):
        expect(page.locator("#question textarea")).to_be_visible()
        page.locator("#search-toggle input").uncheck()  # the stand-in model does not search
    ask(alice, "Alice's private question?", timeout_ms=120_000)
    ask(bob, "Bob's own question?", timeout_ms=120_000)
    expect(alice.locator("#chat")).to_contain_text("Answer 1 to: Alice's private question?")
    assert past_chats(alice) == ["Alice's private question?"]
    assert past_chats(bob) == ["Bob's own question?"]

    # Bob's browser is handed Alice's thread id: for him it is a chat that does not exist.
    stored = alice.evaluate("() => ({...localStorage})")
    for key, value in stored.items():
        bob.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, value])
    bob.reload()
    expect(bob.locator("#question textarea")).to_be_visible()
    expect(bob.locator("#chat")).not_to_contain_text("Alice")
    assert past_chats(bob) == ["Bob's own question?"]
    shot(alice, "login-alice.png")
    shot(bob, "login-bob.png")


def test_wrong_password_is_refused(browser: Any, ui_url: str) -> None:
    page = log_in(browser, ui_url, "alice", "not-her-password")
    expect(page.get_by_text("Incorrect", exact=False)).to_be_visible()
    expect(page.locator("#question")).to_have_count(0)
    shot(page, "login-refused.png")
