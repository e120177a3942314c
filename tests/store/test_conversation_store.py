"""The conversation store on SQLite and on a real PostgreSQL: every test runs on both."""

from __future__ import annotations

from agent.api import AskRequest, SearchAgent
from agent.events import TokenEvent
from core.settings import Settings
from runtime import Runtime
from store import LOCAL_USER, ThreadIndex, open_database
from store.database import SCHEMA_VERSION
from tests.support.scripted import ScriptedModel, Stall
from tests.support.turn_to_kill import kill_mid_turn
from wiring import search_agent


def _agent(settings: Settings, model: ScriptedModel) -> SearchAgent:
    return search_agent(settings, Runtime(model, settings))


def test_conversation_continues_after_reopening(store_settings: Settings) -> None:
    model = ScriptedModel(["First answer.", "Second answer."], dialect="generic")
    with _agent(store_settings, model) as agent:
        first = agent.invoke(AskRequest("First question?", search=False))
    with _agent(store_settings, model) as agent:
        agent.invoke(AskRequest("Second question?", search=False, thread_id=first.thread_id))
        contents = [turn["content"] for turn in agent.turns(first.thread_id)]
        listed = agent.threads()
    assert contents == ["First question?", "First answer.", "Second question?", "Second answer."]
    assert [(t.thread_id, t.title, t.turns) for t in listed] == [
        (first.thread_id, "First question?", 2)
    ]


def test_users_never_see_each_others_conversations(store_settings: Settings) -> None:
    model = ScriptedModel(["Alice's answer.", "Bob's answer."], dialect="generic")
    with _agent(store_settings, model) as agent:
        agent.invoke(AskRequest("Alice asks?", search=False, thread_id="t1", user="alice"))
        # Bob using Alice's thread id starts a conversation of his own under that id.
        agent.invoke(AskRequest("Bob asks?", search=False, thread_id="t1", user="bob"))
        alice = [turn["content"] for turn in agent.turns("t1", "alice")]
        bob = [turn["content"] for turn in agent.turns("t1", "bob")]
        assert alice == ["Alice asks?", "Alice's answer."]
        assert bob == ["Bob asks?", "Bob's answer."]
        assert [t.title for t in agent.threads("alice")] == ["Alice asks?"]
        assert [t.title for t in agent.threads("bob")] == ["Bob asks?"]
        assert agent.threads() == [] and agent.turns("t1") == []  # the local user has none
        agent.delete_thread("t1", "bob")
        assert agent.turns("t1", "bob") == [] and agent.threads("bob") == []
        assert len(agent.turns("t1", "alice")) == 2


def test_schema_is_created_once_and_is_current(store_settings: Settings) -> None:
    for _ in range(2):  # a second open finds the schema current and changes nothing
        database = open_database(store_settings.store)
        try:
            rows = database.execute("SELECT version FROM megrez_schema ORDER BY version")
        finally:
            database.close()
        assert [row[0] for row in rows] == list(range(1, SCHEMA_VERSION + 1))


def test_a_turn_in_progress_is_not_recorded_until_it_ends(store_settings: Settings) -> None:
    """What another process sees mid-turn is what it would find after a crash: the turn
    absent, never a question without its answer."""
    stall = Stall("Partial")
    with _agent(store_settings, ScriptedModel(["One.", stall], dialect="generic")) as agent:
        agent.invoke(AskRequest("First?", search=False, thread_id="k"))
        events = agent.stream(AskRequest("Second?", search=False, thread_id="k"))
        next(event for event in events if isinstance(event, TokenEvent))  # mid-answer
        with _agent(store_settings, ScriptedModel(dialect="generic")) as other:
            assert [turn["content"] for turn in other.turns("k")] == ["First?", "One."]
        stall.release.set()
        events.close()
        assert [turn["role"] for turn in agent.turns("k")] == ["user", "assistant"] * 2


def test_a_conversation_store_of_the_single_user_version_is_migrated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Conversations listed before accounts existed stay the local user's after the upgrade."""
    import sqlite3

    settings = Settings(data_dir=tmp_path)
    old = sqlite3.connect(settings.store.conversations_path)
    old.execute(  # the table as the single-user version created it
        "CREATE TABLE megrez_threads (thread_id TEXT PRIMARY KEY, title TEXT, "
        "created_at TEXT, updated_at TEXT, turns INTEGER DEFAULT 0)"
    )
    old.execute("INSERT INTO megrez_threads VALUES ('t-old', 'Old question?', 'a', 'b', 3)")
    old.commit()
    old.close()
    database = open_database(settings.store)
    try:
        index = ThreadIndex(database)
        assert [(t.thread_id, t.title, t.turns) for t in index.list(LOCAL_USER)] == [
            ("t-old", "Old question?", 3)
        ]
        assert index.list("alice") == []
    finally:
        database.close()


def test_a_turn_killed_mid_way_leaves_the_past_chats_as_the_conversation(
    store_settings: Settings,
) -> None:
    """`kill -9` mid-answer: a killed first turn lists no chat, and a killed later turn
    counts for nothing (the old index counted a question when it was asked, so it listed an
    empty chat and its count drifted one up per killed turn)."""
    kill_mid_turn(store_settings, "killed-first", completed=0)
    kill_mid_turn(store_settings, "kept", completed=1)
    with _agent(store_settings, ScriptedModel(["After."], dialect="generic")) as agent:
        assert agent.turns("killed-first") == []
        assert [(t.thread_id, t.title, t.turns) for t in agent.threads()] == [
            ("kept", "Question 0?", 1)
        ]
        agent.invoke(AskRequest("After the crash?", search=False, thread_id="kept"))
        assert [(t.thread_id, t.turns) for t in agent.threads()] == [("kept", 2)]
        assert len(agent.turns("kept")) == 4


def test_a_chat_keeps_its_model_in_the_store(store_settings: Settings) -> None:
    """The per-chat model is a column of the conversation row: set before the chat's first
    turn is recorded (an unlisted row), kept when the turn lists it with its title, gone
    with the chat."""
    database = open_database(store_settings.store)
    try:
        index = ThreadIndex(database)
        index.set_model("alice", "t1", "second", "2026-01-01T00:00:00")
        assert index.list("alice") == []  # chosen, nothing asked yet: not a past chat
        index.record("alice", "t1", "First question?", 1, "2026-01-01T00:00:01")
        assert [(t.title, t.turns) for t in index.list("alice")] == [("First question?", 1)]
        assert index.model("alice", "t1") == "second"
        assert index.model(LOCAL_USER, "t1") is None  # another user's thread of that id
        index.set_model("alice", "t1", "third", "2026-01-01T00:00:02")
        index.record("alice", "t1", "ignored: the first title stays", 2, "2026-01-01T00:00:03")
        assert [(t.title, t.turns) for t in index.list("alice")] == [("First question?", 2)]
        assert index.model("alice", "t1") == "third"
        index.delete("alice", "t1")
        assert index.model("alice", "t1") is None
    finally:
        database.close()
