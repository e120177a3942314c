"""Copy, export, chat search and the follow-up chips, without a browser (scripted model)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import markdown_it
import pytest
from pydantic import SecretStr

from core.settings import Settings
from runtime import Runtime
from tests.support.postgres import create_database
from tests.support.responder import ResponderModel
from ui.app import ChatUI
from ui.chats import WEB_SCOPE, matching_chats, provider_for
from ui.export import answer_markdown, conversation_markdown, export_name
from wiring import search_agent

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
URL = "http://127.0.0.1:8765/library/functools.html"


@pytest.fixture
def ui(tmp_path: Path) -> ChatUI:
    settings = Settings(data_dir=tmp_path / "data", search="local:none")
    agent = search_agent(settings, Runtime(ResponderModel(), settings))
    yield ChatUI(agent, settings)
    agent.close()


def ask(ui: ChatUI, text: str, thread: str | None = None) -> str:
    *_, last = ui.respond({"text": text}, thread, False, "")
    return last.thread


def test_exported_markdown_has_answers_sources_and_no_live_html() -> None:
    turns = [
        {"role": "user", "content": f"Why {HOSTILE}?"},
        {
            "role": "assistant",
            "content": f"It caches [1]. Invented [4]. {HOSTILE}",
            "sources": [{"n": 1, "url": URL, "title": f"functools {HOSTILE}"}],
        },
    ]
    text = conversation_markdown(f"Why {HOSTILE}?", turns)
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(text)
    assert "<script" not in html and "<img" not in html
    assert "It caches [1]." in text and "[4]" not in text
    assert "1. [functools &lt;script&gt;" in text and f"]({URL}) — 127.0.0.1" in text
    assert answer_markdown("A [1].", []) == "A .\n"  # no source, no citation
    assert (
        export_name(f"Why {HOSTILE}?") == "why-script-alert-x-script-img-src-x-onerror-alert-1.md"
    )


def test_chat_search_matches_title_and_text_words(ui: ChatUI) -> None:
    zebra = ask(ui, "Tell me about zebras")
    giraffe = ask(ui, "Tell me about giraffes")
    threads = ui.agent.threads()
    assert matching_chats(ui.agent, threads, "ZEBRAS") == [zebra]
    assert set(matching_chats(ui.agent, threads, "reply without sources")) == {zebra, giraffe}
    assert matching_chats(ui.agent, threads, "giraffes answer 2") == [giraffe]
    today, *_, found = ui.sidebar.on_search_chats("zebras", None)
    assert [thread for _, thread in today["choices"]] == [zebra] and found == "1 chat found"


def test_copy_export_delete_and_followups(ui: ChatUI) -> None:
    thread = ask(ui, "Tell me about zebras")
    assert ui.answer_markdown(thread).startswith("Answer 1. A reply without sources.")
    export = ui.export_file(thread)
    assert Path(export["value"]).read_text(encoding="utf-8").startswith("# Tell me about zebras")
    chips = ui.followups(thread)
    assert [chip["visible"] for chip in chips] == [True, True, True]
    assert chips[0]["value"].endswith("?")
    assert ui.export_file("../../etc")["value"] is None  # an id never escapes the folder
    ui.sidebar.delete(thread)
    ui.sidebar.purge(datetime.now() + timedelta(seconds=ui.settings.ui.undo_delete_s + 1))
    assert ui.agent.threads() == [] and ui.export_file(thread)["value"] is None


def test_followups_off_by_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", search="local:none", followups=False)
    agent = search_agent(settings, Runtime(ResponderModel(), settings))
    try:
        chat_ui = ChatUI(agent, settings)
        thread = ask(chat_ui, "Hello?")
        calls = len(agent.runtime.model.calls)  # type: ignore[attr-defined]
        assert [c["visible"] for c in chat_ui.followups(thread)] == [False, False, False]
        assert len(agent.runtime.model.calls) == calls  # type: ignore[attr-defined]
    finally:
        agent.close()


def test_regenerate_replaces_the_last_answer(ui: ChatUI) -> None:
    thread = ask(ui, "Tell me about zebras")
    ask(ui, "And giraffes?", thread)
    *_, last = ui.regenerate(thread, False, "")
    answers = [t["content"] for t in ui.agent.turns(thread) if t["role"] == "assistant"]
    assert answers == ["Answer 1. A reply without sources.", "Answer 3. A reply without sources."]
    assert last.status.startswith("✓")


def test_scope_picks_the_provider() -> None:
    assert provider_for(WEB_SCOPE, "ddg, searxng:http://x") == "ddg, searxng:http://x"
    assert provider_for("local:notes", "ddg") == "local:notes"
    assert provider_for(None, " ") is None


def test_regenerate_with_nothing_asked_says_so(ui: ChatUI) -> None:
    (update,) = ui.regenerate(None, False, "")
    assert update.status == "⚠ Nothing to regenerate yet: ask a question first."
    assert update.chat == []


def test_each_chat_keeps_its_model(ui: ChatUI) -> None:
    first = ask(ui, "First chat?")
    ui.chat_models.set("", first, "second")  # as after a turn run with the "second" model
    default = ui.settings.runtime.model
    _, _, stored, model, *_ = ui.on_pick(first, True, default)
    assert model == default  # "second" is not configured here: the default stands in
    ui.agent.engines.settings = ui.settings.replace(models="second")
    _, _, stored, model, *_ = ui.on_pick(first, True, default)
    assert model == "second" and stored["model"] == "second"
    ui.sidebar.delete(first)
    ui.sidebar.purge(datetime.now() + timedelta(seconds=ui.settings.ui.undo_delete_s + 1))
    assert ui.chat_models.get("", first) is None


def test_replicas_on_one_postgres_show_the_same_model_for_a_chat(
    tmp_path: Path, postgres_server: str
) -> None:
    """Two processes' UIs over one PostgreSQL: a chat answered with the second model in one
    opens with that model picked in the other (the choice is a column of the store)."""
    url = SecretStr(create_database(postgres_server))
    replicas: list[ChatUI] = []
    for name in ("first", "other"):
        settings = Settings(
            data_dir=tmp_path / name, search="local:none", models="second", database_url=url
        )
        second = ResponderModel("Second")
        agent = search_agent(
            settings, Runtime(ResponderModel(), settings), load=lambda s, m=second: Runtime(m, s)
        )
        replicas.append(ChatUI(agent, settings))
    first, other = replicas
    try:
        *_, last = first.respond({"text": "Which model?"}, None, False, "", model="second")
        assert "Second 1." in str(first.agent.turns(last.thread)[-1]["content"])
        _, _, stored, model, *_ = other.on_pick(last.thread, True, "embedded")
        assert model == "second" and stored["model"] == "second"
    finally:
        for ui in replicas:
            ui.agent.close()


def test_model_choices_of_an_older_ui_sqlite_are_imported_once(tmp_path: Path) -> None:
    """Earlier versions kept the per-chat model in data_dir/ui.sqlite; the first start of
    this one copies them into the conversation store and retires the file."""
    import sqlite3

    settings = Settings(data_dir=tmp_path / "data", search="local:none", models="second")
    agent = search_agent(settings, Runtime(ResponderModel(), settings))
    try:
        first = ask(ChatUI(agent, settings), "A chat of the older version?")
        old = sqlite3.connect(settings.store.data_dir / "ui.sqlite")
        old.execute("CREATE TABLE chat_models (thread_id TEXT PRIMARY KEY, model TEXT)")
        old.execute("INSERT INTO chat_models VALUES (?, 'second')", (first,))
        old.commit()
        old.close()
        ui = ChatUI(agent, settings)
        assert ui.chat_models.get("", first) == "second"
        assert not (settings.store.data_dir / "ui.sqlite").exists()
        assert (settings.store.data_dir / "ui.sqlite.imported").exists()
    finally:
        agent.close()
