"""The UI's turn handler without a browser: failures become messages and the chat goes on;
conversations come back after a reload or a restart. A scripted model stands in for Megrez
so each case is exact and fast; the browser test runs the real embedded model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from agent.api import SearchAgent
from core.settings import Settings
from runtime import ModelCallError, Runtime
from tests.support.scripted import Fail, ScriptedModel, Stall
from tests.support.servers import free_port
from ui.app import ChatUI
from wiring import search_agent


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Nothing listens on the port: the provider is an outage, not a fake.
    return Settings(
        data_dir=tmp_path / "data",
        search=f"searxng:http://127.0.0.1:{free_port()}",
        decide_bias=1.0,
    )


def make_ui(settings: Settings, outputs: list[Any]) -> tuple[ChatUI, SearchAgent]:
    model = ScriptedModel(outputs, dialect="generic")
    agent = search_agent(settings, Runtime(model, settings))
    return ChatUI(agent, settings), agent


@pytest.fixture
def ui(settings: Settings) -> Iterator[ChatUI]:
    chat_ui, agent = make_ui(settings, [])
    yield chat_ui
    agent.close()


def ask(
    ui: ChatUI,
    outputs: list[Any],
    text: str = "",
    files: list[Path] = (),
    thread: str | None = None,
    search: bool = False,
    memory: bool | None = None,
) -> tuple[list[dict[str, Any]], str, str]:
    """Run one turn; returns (chat messages, thread id, status line) of its last update."""
    ui.agent.runtime.model.outputs.extend(outputs)  # type: ignore[attr-defined]
    updates = list(
        ui.respond(
            {"text": text, "files": [str(f) for f in files]}, thread, search, "", memory=memory
        )
    )
    last = updates[-1]
    assert last.stored == {
        "thread_id": last.thread,
        "search": search,
        "model": ui.settings.runtime.model,
    }
    return last.chat, last.thread, last.status


def contents(chat: list[dict[str, Any]]) -> str:
    return "\n".join(str(m["content"]) for m in chat)


def test_unreadable_upload_is_a_message_and_the_chat_goes_on(ui: ChatUI, tmp_path: Path) -> None:
    broken = tmp_path / "photo.png"
    broken.write_bytes(b"this is not a png")
    chat, thread, status = ask(ui, [], "What is in this photo?", [broken])
    assert "⚠" in contents(chat) and "image" in contents(chat).lower()
    assert status.startswith("⚠")
    chat, thread_after, status = ask(ui, ["Fine, thanks."], "How are you?", thread=thread)
    assert thread_after == thread and status.startswith("✓")
    assert contents(chat).count("How are you?") == 1 and "Fine, thanks." in contents(chat)
    assert "What is in this photo?" in contents(chat)  # the failed turn stays in the chat


def test_file_of_another_kind_is_refused_with_a_message(ui: ChatUI, tmp_path: Path) -> None:
    notes = tmp_path / "notes.xlsx"
    notes.write_bytes(b"PK\x03\x04")
    chat, _, _ = ask(ui, ["Hello."], "Hi", [notes])
    assert "cannot use notes.xlsx" in contents(chat) and "Hello." in contents(chat)


def test_model_error_is_a_message_and_the_chat_goes_on(ui: ChatUI) -> None:
    failing = Fail("Half an ans", ModelCallError("the model server at http://x timed out"))
    chat, thread, status = ask(ui, [failing], "Tell me something.")
    assert "timed out" in contents(chat) and status.startswith("⚠")
    chat, _, status = ask(ui, ["Something."], "Try again?", thread=thread)
    assert status.startswith("✓") and chat[-1]["content"].startswith("<p>Something.</p>")


def test_failed_search_is_said_and_no_memory_answer_unless_switched_on(ui: ChatUI) -> None:
    # A word no port number or error text can contain, unlike "42" (a random port once did).
    chat, _, status = ask(ui, ["From memory: Zanzibar."], "What is the answer?", search=True)
    text = contents(chat)
    assert "Search failed" in text and "the search failed" in text and "try again" in text
    assert "Zanzibar" not in text and status.startswith("✓")
    # The settings switch allows a memory answer, labelled as unsourced.
    chat, _, status = ask(ui, [], "What is the answer?", search=True, memory=True)
    text = contents(chat)
    assert "Unsourced answer from the model's memory" in text and "Zanzibar" in text


def test_empty_question_asks_for_input(ui: ChatUI) -> None:
    chat, _, status = ask(ui, [], "   ")
    assert "Type a question" in contents(chat) and status.startswith("⚠")


def test_conversation_survives_reload_and_restart(settings: Settings) -> None:
    first, agent = make_ui(settings, ["Paris [1]."])
    _, thread, _ = ask(first, [], "Capital of France?")
    chat, thread_id, past, search, *_ = first.on_load({"thread_id": thread, "search": False})
    assert search is False  # the web-search toggle comes back as the user left it
    assert (
        thread_id == thread and "Capital of France?" in contents(chat) and "Paris" in contents(chat)
    )
    agent.close()
    restarted, agent = make_ui(settings, [])  # a new process on the same data dir
    chat, _, past, *_ = restarted.on_load({"thread_id": thread})
    assert "Capital of France?" in contents(chat) and "Paris" in contents(chat)
    assert (("Capital of France?", thread)) in past["choices"]  # in the past-chats list
    opened, _, stored, *_ = restarted.on_pick(thread, True, settings.runtime.model)
    assert opened == chat and stored == {
        "thread_id": thread,
        "search": True,
        "model": settings.runtime.model,
    }
    agent.close()


def test_independent_threads_for_independent_browsers(ui: ChatUI) -> None:
    _, thread_a, _ = ask(ui, ["Answer A."], "Question A?")
    _, thread_b, _ = ask(ui, ["Answer B."], "Question B?")
    assert thread_a != thread_b
    chat_a, *_ = ui.on_load({"thread_id": thread_a})
    assert "Question A?" in contents(chat_a) and "Question B?" not in contents(chat_a)


def test_two_browser_sessions_run_at_once(settings: Settings) -> None:
    """Session A's answer is stuck in the model; session B still gets its answer meanwhile."""
    from gradio_client import Client

    from ui.launch import build_app

    release = threading.Event()
    _, agent = make_ui(settings, [Stall("Answer A.", release), "Answer B."])
    demo = build_app(agent, settings)
    demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
    )
    try:
        client_a, client_b = (Client(demo.local_url, verbose=False) for _ in range(2))
        # Search off: with search on, the outage would end A's turn without a model call.
        job_a = client_a.submit(
            {"text": "Question A?", "files": []}, False, "", api_name="/respond"
        )
        # A holds the model (its stall); wait until it has taken its output before B asks.
        model = agent.runtime.model
        for _ in range(1200):  # poll (at most a minute) until A's turn has taken the stall
            if model.outputs == ["Answer B."]:  # type: ignore[attr-defined]
                break
            release.wait(0.05)
        # With a serialising queue B would wait behind A, which waits for `release`: timeout.
        job_b = client_b.submit(
            {"text": "Question B?", "files": []}, False, "", api_name="/respond"
        )
        chat_b = job_b.result(timeout=60)
        assert not job_a.done()  # B finished while A was still at work
        assert "Answer B." in contents(chat_b[0]) and "Question A?" not in contents(chat_b[0])
        release.set()
        chat_a = job_a.result(timeout=60)
        assert "Answer A." in contents(chat_a[0]) and "Question B?" not in contents(chat_a[0])
    finally:
        release.set()
        demo.close()
        agent.close()


def test_stop_keeps_the_partial_answer(ui: ChatUI) -> None:
    release = threading.Event()
    ui.agent.runtime.model.outputs.append(Stall("The first words", release))  # type: ignore[attr-defined]
    updates = ui.respond({"text": "Write a long story.", "files": []}, None, False, "")
    try:
        for update in updates:
            if update.chat and "first words" in str(update.chat[-1]["content"]):
                ui.on_stop(update.thread)  # the Stop button, mid-answer
                release.set()  # the model would go on writing; it must not be shown
                break
        final = list(updates)[-1]
    finally:
        release.set()
    assert final.status == "■ Stopped"
    assert "The first words" in contents(final[0])


def test_pages_setting_bounds_what_the_turn_reads(docs_index) -> None:
    """The settings panel's "pages" slider reaches the search: one page read, one source."""
    docs_settings, name = docs_index
    settings = docs_settings.replace(search=f"local:{name}", decide_bias=1.0)
    chat_ui, agent = make_ui(settings, ["The default maxsize is 128."])
    try:
        box = {"text": "What is the default maxsize of functools.lru_cache?", "files": []}
        updates = list(chat_ui.respond(box, None, True, "", 1))
        thread_id = updates[-1][2]
        values = agent.graph.get_state({"configurable": {"thread_id": thread_id}}).values
        assert len(values["results"]) == 1 and len(values["contexts"]) == 1
        assert "128" in contents(updates[-1][0])
    finally:
        agent.close()


def test_followups_written_while_another_question_is_sent_are_not_shown(ui: ChatUI) -> None:
    """Follow-ups arrive seconds after their answer: once the next question has been sent
    (`on_ask` hid the chips), the late ones must not bring the old chips back."""
    _, thread, _ = ask(ui, ["It keeps 128 calls."], "What is lru_cache?")

    def next_question_sent_meanwhile(messages: list[Any]) -> str:
        ui.on_ask()
        return "What does typed do?\nHow is it cleared?\nIs it thread-safe?"

    ui.agent.runtime.model.outputs.append(next_question_sent_meanwhile)  # type: ignore[attr-defined]
    assert ui.followups(thread) == [gr.skip()] * 3
    ui.agent.runtime.model.outputs.append("1. **What does `typed` do?**\n- How is it cleared?\n")  # type: ignore[attr-defined]
    chips = ui.followups(thread)
    assert [(chip["value"], chip["visible"]) for chip in chips] == [
        ("What does typed do?", True),
        ("How is it cleared?", True),
        ("", False),
    ]
