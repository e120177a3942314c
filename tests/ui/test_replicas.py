"""Two real `serve` replicas on one real PostgreSQL (`MEGREZ_DATABASE_URL`).

A conversation started on one replica continues on the other with its history; accounts and
API keys live in the database too, so one key works on both. `kill -9` of a replica in the
middle of a turn loses no other conversation, and the killed turn is absent, not half-written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import openai
import pytest
from pydantic import SecretStr

from accounts import Accounts
from core.settings import Settings
from runtime import Runtime
from store import open_database
from tests.support.postgres import create_database
from tests.support.replicas import Replica
from tests.support.responder import ResponderModel
from tests.support.standin_model import SLOW_MARK, StandinServer, serve_standin_model
from ui.app import ChatUI
from wiring import search_agent


@pytest.fixture
def cluster(
    postgres_server: str, tmp_path: Path
) -> Iterator[tuple[Replica, Replica, str, Settings, StandinServer]]:
    url = create_database(postgres_server)
    settings = Settings(data_dir=tmp_path / "db-reader", database_url=SecretStr(url))
    database = open_database(settings.store)  # the schema is created by whichever opens it first
    accounts = Accounts(database)
    accounts.add("alice", "alice-password")
    key = accounts.create_key("alice")
    database.close()
    with serve_standin_model() as model:
        env = {"MEGREZ_DATABASE_URL": url, "MEGREZ_MODEL": model.spec}
        replicas = [
            Replica.start(tmp_path / f"replica-{n}", env, tmp_path / f"replica-{n}.log")
            for n in (1, 2)
        ]
        try:
            yield replicas[0], replicas[1], key, settings, model
        finally:
            for replica in replicas:
                replica.stop()


def ask(replica: Replica, key: str, question: str, thread_id: str) -> str:
    with openai.OpenAI(
        base_url=replica.base + "/v1", api_key=key, max_retries=0, timeout=300
    ) as client:
        reply = client.chat.completions.create(
            model="megrez-search-nosearch",
            messages=[{"role": "user", "content": question}],
            extra_body={"thread_id": thread_id},
        )
    return reply.choices[0].message.content or ""


def turns_of(settings: Settings, thread_id: str) -> list[tuple[str, str]]:
    with search_agent(settings) as agent:  # reads the database; its model is never called
        alice = Accounts(agent.store.database).user_id("alice") or ""
        return [(t["role"], t["content"]) for t in agent.turns(thread_id, alice)]


def test_conversation_continues_on_the_other_replica(cluster) -> None:  # type: ignore[no-untyped-def]
    first, second, key, settings, _ = cluster
    assert (
        ask(first, key, "Which port does it use?", "conv") == "Answer 1 to: Which port does it use?"
    )
    # The second replica's model gets the first turn as history: two user messages.
    assert ask(second, key, "And the other one?", "conv") == "Answer 2 to: And the other one?"
    assert ask(first, key, "And a third?", "conv") == "Answer 3 to: And a third?"
    assert [role for role, _ in turns_of(settings, "conv")] == ["user", "assistant"] * 3


def test_kill_9_mid_turn_loses_nothing_else(cluster) -> None:  # type: ignore[no-untyped-def]
    first, second, key, settings, model = cluster
    ask(first, key, "Kept on the first replica?", "keep-1")
    ask(second, key, "Kept on the second replica?", "keep-2")
    ask(first, key, "Before the crash?", "killed")

    failure: list[BaseException] = []

    def doomed_turn() -> None:
        try:
            ask(first, key, f"{SLOW_MARK} during the crash?", "killed")
        except BaseException as exc:  # noqa: BLE001 - the replica dies under it
            failure.append(exc)

    worker = threading.Thread(target=doomed_turn)
    worker.start()
    assert model.slow_started.wait(120), "the doomed turn never reached the model"
    first.kill()  # mid-turn: the model is writing the answer
    worker.join(timeout=120)
    assert failure and isinstance(failure[0], openai.APIConnectionError)

    # The killed turn is absent, not a question without its answer.
    assert turns_of(settings, "killed") == [
        ("user", "Before the crash?"),
        ("assistant", "Answer 1 to: Before the crash?"),
    ]
    # Every other conversation is whole and continues on the surviving replica.
    assert ask(second, key, "Still there?", "keep-1") == "Answer 2 to: Still there?"
    assert ask(second, key, "Still here?", "keep-2") == "Answer 2 to: Still here?"
    assert ask(second, key, "After the crash?", "killed") == "Answer 2 to: After the crash?"


def test_two_replicas_show_the_same_model_for_a_chat(postgres_server: str, tmp_path: Path) -> None:
    """The per-chat model picker is read from the shared database, not a file of each
    process: a model picked on one UI replica is the one the other shows for that chat."""
    url = SecretStr(create_database(postgres_server))
    uis = []
    for n in (1, 2):
        settings = Settings(
            data_dir=tmp_path / f"ui-{n}", database_url=url, search="local:none", models="second"
        )
        uis.append(ChatUI(search_agent(settings, Runtime(ResponderModel(), settings)), settings))
    first, second = uis
    try:
        *_, last = first.respond({"text": "Which model answers?"}, None, False, "")
        thread = last.thread
        first.on_settings(thread, False, "second")  # picked in this chat on replica 1
        _, _, stored, model, *_ = second.on_pick(thread, False, second.settings.runtime.model)
        assert model == "second" and stored["model"] == "second"
        _, _, stored, model, *_ = second.on_pick("other-chat", False, second.settings.runtime.model)
        assert model == second.settings.runtime.model  # a chat with no choice shows the current one
    finally:
        for ui in uis:
            ui.agent.close()


def test_two_replicas_show_the_same_collections_for_a_chat(
    postgres_server: str, tmp_path: Path
) -> None:
    """The collections a chat searches are read from the shared database, not a file of each
    process: attached on one UI replica, the other shows and searches them for that chat,
    and only for its owner."""
    url = SecretStr(create_database(postgres_server))
    uis = []
    for n in (1, 2):
        settings = Settings(data_dir=tmp_path / f"ui-{n}", database_url=url, search="local:none")
        uis.append(ChatUI(search_agent(settings, Runtime(ResponderModel(), settings)), settings))
    first, second = uis
    bob, alice = gr.Request(username="bob"), gr.Request(username="alice")
    try:
        first.collections.on_add("handbook", [], None, bob)
        first.collections.on_add("garden", [], None, bob)
        # Picked before the chat's first question on replica 1, kept with that chat.
        first.collections.on_use(["handbook"], None, bob)
        *_, last = first.respond({"text": "Refund period?"}, None, False, "", request=bob)
        assert second.collections.of_chat("bob", last.thread) == ["handbook"]
        first.collections.on_use(["garden", "handbook"], last.thread, bob)
        shown = second.collections.on_show(None, last.thread, bob)[2]
        assert shown["value"] == ["garden", "handbook"]
        assert second.collections.on_show(None, last.thread, alice)[2]["value"] == []
    finally:
        for ui in uis:
            ui.agent.close()
