"""Sessions and sign-ins of the browser UI, over real HTTP to a UI served in this process (a
scripted model; SQLite and a real PostgreSQL).

A session already logged in ends when its password changes or its account is removed; a name
taken again reaches none of the old account's chats; removing the last account leaves the UI
closed; a flood of wrong passwords is throttled (429 with Retry-After) while a user already
signed in is still served.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from accounts import Accounts
from core.settings import Settings
from runtime import Runtime
from store import ThreadIndex
from tests.support.gradio_events import call_event
from tests.support.scripted import ScriptedModel
from tests.support.servers import free_port
from ui.app import ChatUI
from ui.launch import launch_chat
from wiring import search_agent

NOW = "2026-01-02T09:30:00"
FLOOD, CLIENTS = 200, 8


@dataclass
class UI:
    base: str
    accounts: Accounts
    index: ThreadIndex

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60, headers=headers)

    def signed_in(self, name: str, password: str) -> httpx.Client:
        client = self.client()
        assert client.post("/login", data={"username": name, "password": password}).is_success
        return client

    def chat_titles(self, client: httpx.Client) -> list[str] | int:
        """The past-chats list `client`'s session sees, or the status that refused it."""
        output = call_event(client, "on_search_chats", ["", None])
        if isinstance(output, int):
            return output
        groups = output[:3]  # Today, Previous 7 days, Older (ui.sidebar)
        return [label.splitlines()[0] for group in groups for label, _ in group["choices"]]


@contextmanager
def serving(settings: Settings) -> Iterator[UI]:
    """The UI with accounts alice and bob, each with one past chat."""
    model = ScriptedModel([], dialect="generic")
    with search_agent(settings, Runtime(model, settings)) as agent:
        accounts, index = Accounts(agent.store.database), ThreadIndex(agent.store.database)
        for name in ("alice", "bob"):
            accounts.add(name, f"{name}-password")
            index.record(accounts.user_id(name) or "", "t1", f"{name}'s secret", 1, NOW)
        port = free_port()
        demo = launch_chat(ChatUI(agent, settings), "127.0.0.1", port, block=False)
        try:
            yield UI(f"http://127.0.0.1:{port}", accounts, index)
        finally:
            demo.close()


@pytest.fixture
def ui(store_settings: Settings) -> Iterator[UI]:
    with serving(store_settings) as ui:
        yield ui


def test_password_change_and_removal_end_sessions_already_logged_in(ui: UI) -> None:
    alice, bob = ui.signed_in("alice", "alice-password"), ui.signed_in("bob", "bob-password")
    assert ui.chat_titles(alice) == ["alice's secret"]
    ui.accounts.set_password("alice", "a new password")
    assert ui.chat_titles(alice) == 401
    assert alice.get("/gradio_api/login_check").status_code == 401
    assert ui.chat_titles(bob) == ["bob's secret"]  # another account's session stands
    alice = ui.signed_in("alice", "a new password")
    assert ui.chat_titles(alice) == ["alice's secret"]

    ui.accounts.remove("alice")
    assert ui.chat_titles(alice) == 401
    ui.accounts.add("alice", "alice-password")
    assert ui.chat_titles(ui.signed_in("alice", "alice-password")) == []  # a new alice


def test_removing_the_last_account_leaves_the_ui_closed(ui: UI) -> None:
    alice, bob = ui.signed_in("alice", "alice-password"), ui.signed_in("bob", "bob-password")
    ui.accounts.remove("alice")
    ui.accounts.remove("bob")
    assert not ui.accounts.has_users()
    for client in (alice, bob, ui.client()):
        assert ui.chat_titles(client) == 401
    refused = ui.client().post("/login", data={"username": "bob", "password": "bob-password"})
    assert refused.status_code == 400


def _sign_in(ui: UI, attempt: int) -> httpx.Response:
    # Half the clients claim another address; the peer is loopback, which is no trusted proxy.
    spoofed = {"X-Forwarded-For": f"198.51.100.{attempt % 250}"} if attempt % 4 < 2 else {}
    name = "alice" if attempt % 2 else f"guess{attempt}"
    with ui.client(spoofed) as client:
        return client.post("/login", data={"username": name, "password": f"wrong-{attempt}"})


def test_a_login_flood_is_throttled_and_a_signed_in_user_still_served(ui: UI) -> None:
    bob = ui.signed_in("bob", "bob-password")
    with ThreadPoolExecutor(CLIENTS) as pool:
        flood = pool.map(lambda attempt: _sign_in(ui, attempt), range(FLOOD))
        during = ui.chat_titles(bob)
        responses = list(flood)
    assert during == ["bob's secret"]
    refused = [r for r in responses if r.status_code == 429]
    checked = [r for r in responses if r.status_code == 400]  # a password was hashed
    assert len(refused) + len(checked) == FLOOD
    # 20 free failures for the one address (the spoofed header counts for nothing), then 1 s,
    # 2 s, 4 s… between attempts: a few more at most while the flood lasts.
    assert len(checked) < 30, len(checked)
    for response in refused:
        wait = int(response.headers["Retry-After"])
        assert wait >= 1
        assert re.fullmatch(
            rf"too many failed sign-ins: try again in {wait} s", response.json()["detail"]
        )
    # The account under attack is locked too: the right password waits like the rest.
    locked = ui.client().post("/login", data={"username": "alice", "password": "alice-password"})
    assert locked.status_code == 429 and "try again in" in locked.json()["detail"]
    assert ui.chat_titles(bob) == ["bob's secret"]


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", trusted_proxies="127.0.0.1", login_free_failures=1
    )

    def sign_in(ui: UI, name: str, forwarded_for: str) -> int:
        with ui.client({"X-Forwarded-For": forwarded_for}) as client:
            form = {"username": name, "password": "wrong password"}
            return client.post("/login", data=form).status_code

    with serving(settings) as ui:
        # Behind the proxy, each address has its own allowance (4 free failures)...
        assert [sign_in(ui, f"guess{n}", f"198.51.100.{n}") for n in range(6)] == [400] * 6
        # ...and one address spraying names is throttled after its own.
        assert [sign_in(ui, f"spray{n}", "203.0.113.9") for n in range(5)] == [400] * 4 + [429]
