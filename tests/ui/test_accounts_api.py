"""Accounts over the API: a real `serve` process, its model a stand-in OpenAI-style server.

Two users with their own API keys share one server: neither reaches the other's
conversations, a missing, wrong or revoked key is a 401 and a user over the rate limit a 429,
both in OpenAI's error shape (so the `openai` client raises its own exception types). A
removed account's keys stop at once and its name, taken again, starts with nothing; a server
that started with accounts stays closed when the last one is removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import openai
import pytest

from accounts import Accounts
from core.settings import Settings
from store import ThreadIndex, open_database
from tests.support.processes import REPO, megrez_process
from tests.support.standin_model import serve_standin_model

T = TypeVar("T")
RATE_LIMIT = 5  # questions per minute of every account in this module


@dataclass
class Server:
    base: str
    settings: Settings
    keys: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("accounts-api")
    settings = Settings(data_dir=folder / "data")
    database = open_database(settings.store)
    accounts = Accounts(database)
    keys = {}
    for name in ("alice", "bob", "carol", "dave"):
        accounts.add(name, f"{name}-password")
        keys[name] = accounts.create_key(name)
    keys["alice-old"] = accounts.create_key("alice", "to revoke")
    database.close()
    with serve_standin_model() as model:
        env = {"MEGREZ_MODEL": model.spec, "MEGREZ_USER_REQUESTS_PER_MINUTE": str(RATE_LIMIT)}
        with megrez_process(["serve"], settings, "/health", folder / "serve.log", env) as base:
            yield Server(base + "/v1", settings, keys)


def client(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base, api_key=key, max_retries=0, timeout=60)


def ask(server: Server, user: str, question: str, thread_id: str | None = None) -> str:
    extra = {"thread_id": thread_id} if thread_id else None
    with client(server, server.keys[user]) as api:
        reply = api.chat.completions.create(
            model="megrez-search-nosearch",
            messages=[{"role": "user", "content": question}],
            extra_body=extra,
        )
    return reply.choices[0].message.content or ""


def test_missing_or_wrong_key_is_a_401_in_openai_shape(server: Server) -> None:
    body = {"model": "megrez-search", "messages": [{"role": "user", "content": "Hi?"}]}
    missing = httpx.post(server.base + "/chat/completions", json=body, timeout=30)
    wrong = httpx.post(
        server.base + "/chat/completions",
        json=body,
        headers={"Authorization": "Bearer msk_000000000000_nope"},
        timeout=30,
    )
    for response in (missing, wrong):
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
        assert error["message"]
    assert httpx.get(server.base + "/models", timeout=30).status_code == 401
    with client(server, "sk-not-ours") as api, pytest.raises(openai.AuthenticationError):
        api.models.list()
    with client(server, server.keys["bob"]) as api:
        assert {m.id for m in api.models.list()} == {
            "megrez-search",
            "megrez-search-nosearch",
            "megrez-search-deep",
        }


def test_two_keys_never_reach_each_others_conversations(server: Server) -> None:
    assert ask(server, "alice", "Where is the launch code?", "shared") == (
        "Answer 1 to: Where is the launch code?"
    )
    # Bob names Alice's thread: for him it does not exist, so his model sees no history.
    assert ask(server, "bob", "What was asked here?", "shared") == (
        "Answer 1 to: What was asked here?"
    )
    assert ask(server, "alice", "And the backup code?", "shared") == (
        "Answer 2 to: And the backup code?"
    )
    database = open_database(server.settings.store)
    try:
        index, accounts = ThreadIndex(database), Accounts(database)
        alice = index.list(accounts.user_id("alice") or "")
        bob = index.list(accounts.user_id("bob") or "")
    finally:
        database.close()
    assert [(t.thread_id, t.title, t.turns) for t in alice] == [
        ("shared", "Where is the launch code?", 2)
    ]
    assert [(t.thread_id, t.title, t.turns) for t in bob] == [("shared", "What was asked here?", 1)]


def test_revoked_key_gets_401(server: Server) -> None:
    with client(server, server.keys["alice-old"]) as api:
        assert api.models.list().data
    database = open_database(server.settings.store)
    try:
        key_id = server.keys["alice-old"].split("_")[1]
        Accounts(database).revoke_key(key_id)
    finally:
        database.close()
    with client(server, server.keys["alice-old"]) as api, pytest.raises(openai.AuthenticationError):
        api.models.list()
    assert ask(server, "alice", "And now?")  # her other key still works


def test_over_the_rate_limit_is_a_429_and_only_for_that_user(server: Server) -> None:
    for n in range(RATE_LIMIT):
        assert ask(server, "carol", f"Question {n}?")
    with client(server, server.keys["carol"]) as api, pytest.raises(openai.RateLimitError) as err:
        api.chat.completions.create(
            model="megrez-search-nosearch", messages=[{"role": "user", "content": "One more?"}]
        )
    assert err.value.status_code == 429
    assert err.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    message = err.value.body["message"]  # type: ignore[index]
    # One wait, said twice: the message's seconds are the Retry-After header's.
    wait = err.value.response.headers["Retry-After"]
    assert "per minute" in message and message.endswith(f"try again in {wait} s"), message
    assert ask(server, "bob", "Am I still served?")  # another user is not affected


def _accounts(settings: Settings, change: Callable[[Accounts], T]) -> T:
    database = open_database(settings.store)
    try:
        return change(Accounts(database))
    finally:
        database.close()


def test_a_removed_account_stops_at_once_and_its_name_taken_again_starts_empty(
    server: Server,
) -> None:
    assert ask(server, "dave", "Dave's secret plan?", "mine") == "Answer 1 to: Dave's secret plan?"
    _accounts(server.settings, lambda accounts: accounts.remove("dave"))
    with client(server, server.keys["dave"]) as api, pytest.raises(openai.AuthenticationError):
        api.models.list()

    def add_again(accounts: Accounts) -> str:
        accounts.add("dave", "a new dave's password")
        return accounts.create_key("dave")

    server.keys["dave"] = _accounts(server.settings, add_again)
    # The same name and the same thread id: a new account, with no history to see.
    assert ask(server, "dave", "What was planned?", "mine") == "Answer 1 to: What was planned?"


def test_removing_the_last_account_keeps_a_running_server_closed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    key = _accounts(settings, lambda a: (a.add("solo", "solo-password"), a.create_key("solo"))[1])
    with serve_standin_model() as model:
        env = {"MEGREZ_MODEL": model.spec}
        with megrez_process(["serve"], settings, "/health", tmp_path / "serve.log", env) as base:
            assert httpx.get(base + "/v1/models", timeout=30).status_code == 401
            _accounts(settings, lambda accounts: accounts.remove("solo"))
            for headers in ({}, {"Authorization": f"Bearer {key}"}):
                response = httpx.get(base + "/v1/models", headers=headers, timeout=30)
                assert response.status_code == 401
                assert response.json()["error"]["code"] == "invalid_api_key"


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "megrez_search", "--data-dir", str(data_dir), *args],
        cwd=REPO,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_public_address_without_accounts_refuses_to_start(tmp_path: Path) -> None:
    for command in ("ui", "serve"):
        done = _cli(tmp_path / "data", command, "--host", "0.0.0.0", "--port", "9")
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: refusing to listen on 0.0.0.0")


def test_no_auth_overrides_the_refusal_loudly(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    log = tmp_path / "serve.log"
    with serve_standin_model() as model:
        command = ["serve", "--host", "0.0.0.0", "--no-auth"]
        with megrez_process(
            command, settings, "/health", log, {"MEGREZ_MODEL": model.spec}
        ) as base:
            assert httpx.get(base + "/v1/models", timeout=30).status_code == 200  # no key needed
    assert "WITHOUT AUTHENTICATION" in log.read_text()
