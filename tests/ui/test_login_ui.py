"""The UI's handlers per logged-in user (`gr.Request.username`), with a scripted model:
private past chats and the per-user limit's message. The login page itself is in
test_login_browser.py."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from core.settings import Settings
from runtime import Runtime
from tests.support.scripted import ScriptedModel
from ui.app import ChatUI, TurnUpdate
from ui.login import login_message
from wiring import search_agent


def _ask(ui: ChatUI, user: str, text: str, thread_id: str | None = None) -> TurnUpdate:
    request = gr.Request(username=user)
    *_, last = ui.respond({"text": text}, thread_id, False, "", None, request=request)
    return last


def test_each_user_sees_only_their_own_chats_and_their_own_limit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", user_requests_per_minute=1)
    model = ScriptedModel(["For Alice.", "For Bob."], dialect="generic")
    with search_agent(settings, Runtime(model, settings)) as agent:
        ui = ChatUI(agent, settings)
        chat, _, alice_thread, *_ = _ask(ui, "alice", "Alice's question?")
        assert chat[-1]["content"].startswith("<p>For Alice.")
        _ask(ui, "bob", "Bob's question?")

        def listed(user: str) -> list[str]:
            update = ui.on_new_chat(
                False, settings.runtime.model, request=gr.Request(username=user)
            )[3]
            return [title for title, _ in update["choices"]]

        assert listed("alice") == ["Alice's question?"]
        assert listed("bob") == ["Bob's question?"]
        # Bob's browser holding Alice's thread id opens nothing.
        bob_view = ui.on_load({"thread_id": alice_thread}, request=gr.Request(username="bob"))
        assert bob_view[0] == []

        # Over her limit, Alice gets a clear message and no turn runs; Bob is not affected.
        refused = _ask(ui, "alice", "Another one?", alice_thread)
        chat, status = refused.chat, refused.status
        assert "Too many questions at once: rate limit: 1 questions per minute" in str(chat)
        assert status.startswith("⚠")
        assert len(agent.turns(alice_thread, "alice")) == 2
        assert model.outputs == []  # no model call was made for the refused question


def test_the_login_page_states_the_sign_in_throttle(tmp_path: Path) -> None:
    """Gradio's form says only "Incorrect Credentials" to a throttled attempt: the page's own
    text tells the user that, and how long, sign-ins wait after failures."""
    settings = Settings(data_dir=tmp_path, login_free_failures=3, login_max_wait_s=120)
    text = login_message(settings)
    assert "After 3 failed sign-ins" in text and "up to 120 s" in text
