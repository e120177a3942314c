"""The sidebar's past chats without a page: grouping by date on a fixed clock, search inline,
rename, and delete with undo (the chat is kept until its undo window ends, then purged)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.api import ThreadInfo
from core.settings import Settings
from runtime import Runtime
from tests.support.responder import ResponderModel
from ui.app import ChatUI
from ui.sidebar import date_label, group_of, grouped
from wiring import search_agent

NOW = datetime(2026, 1, 7, 9, 30)  # a Wednesday


def info(thread_id: str, title: str, when: datetime) -> ThreadInfo:
    stamp = when.isoformat(timespec="microseconds")
    return ThreadInfo(thread_id, title, stamp, stamp, 1)


def test_chats_are_grouped_today_previous_seven_days_older() -> None:
    chats = [
        info("a", "Just now", NOW - timedelta(minutes=5)),
        info("b", "This morning", NOW.replace(hour=0, minute=1)),
        info("c", "Last night", NOW.replace(hour=0, minute=0) - timedelta(minutes=1)),
        info("d", "A week ago", NOW - timedelta(days=7)),
        info("e", "Eight days ago", NOW - timedelta(days=8)),
    ]
    groups = grouped(chats, NOW)
    assert [[thread for _, thread in group] for group in groups] == [["a", "b"], ["c", "d"], ["e"]]
    assert groups[0][0][0] == "Just now\n09:25"
    assert groups[1][0][0] == "Last night\nTue 23:59"
    assert groups[2][0][0] == "Eight days ago\n30 Dec 2025"
    assert group_of("not a date", NOW) == 2 and date_label("not a date", NOW) == ""


def test_a_long_title_is_shortened_in_the_list_only() -> None:
    title = "word " * 30
    ((label, _),) = grouped([info("a", title, NOW)], NOW)[0]
    assert label.splitlines()[0] == title[:60] + "…"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[ChatUI]:
    settings = Settings(data_dir=tmp_path / "data", search="local:none", undo_delete_s=10)
    agent = search_agent(settings, Runtime(ResponderModel(), settings))
    chat_ui = ChatUI(agent, settings)
    chat_ui.sidebar.clock = Clock()
    yield chat_ui
    agent.close()


def ask(ui: ChatUI, text: str) -> str:
    *_, last = ui.respond({"text": text}, None, False, "")
    return str(last.thread)


def titles(update: dict[str, object]) -> list[str]:
    return [str(label).splitlines()[0] for label, _ in update["choices"]]  # type: ignore[attr-defined]


def test_search_filters_the_list_and_selects_the_open_chat(ui: ChatUI) -> None:
    zebra, giraffe = ask(ui, "Tell me about zebras"), ask(ui, "Tell me about giraffes")
    today, week, older, found = ui.sidebar.show("", zebra)
    assert titles(today) == ["Tell me about giraffes", "Tell me about zebras"]
    assert today["value"] == zebra and not week["visible"] and not older["visible"]
    assert found == ""
    today, *_, found = ui.sidebar.show("ZEBRAS", giraffe)
    assert titles(today) == ["Tell me about zebras"] and today["value"] is None
    assert found == "1 chat found"


def test_opening_nothing_keeps_the_open_chat(ui: ChatUI) -> None:
    # A list event without a chat (what cleared the open chat before) changes nothing.
    updates = ui.on_pick(None, True, ui.settings.runtime.model)
    assert all(update == {"__type__": "update"} or update is None for update in updates)
    assert len(updates) == 8


def test_rename_keeps_the_title_through_later_turns(ui: ChatUI) -> None:
    thread = ask(ui, "Tell me about zebras")
    status, listing = ui.sidebar.on_rename(thread, "  Zebra   notes ")
    assert status == "" and listing["choices"] == [("Zebra notes", thread)]
    list(ui.respond({"text": "And their stripes?"}, thread, False, ""))
    assert [i.title for i in ui.agent.threads()] == ["Zebra notes"]
    assert ui.sidebar.rename(thread, "   ") == "⚠ Type the chat's new title first."
    assert ui.sidebar.rename(thread, "bad\x00title").startswith("⚠ This title cannot be kept")
    assert ui.sidebar.title(thread)["value"] == "Zebra notes"


def test_delete_is_undone_within_the_window_and_purged_after(ui: ChatUI) -> None:
    clock = ui.sidebar.clock
    assert isinstance(clock, Clock)
    keep, gone = ask(ui, "Tell me about zebras"), ask(ui, "Tell me about giraffes")
    ui.chat_models.set("", gone, "second")

    deleted, bar, timer = ui.sidebar.on_delete(gone)
    assert deleted == gone and bar["visible"] and timer.active
    assert [i.thread_id for i in ui.agent.threads()] == [keep]
    clock.now = NOW + timedelta(seconds=9)
    ui.sidebar.show("", None)  # a listing inside the window purges nothing
    assert len(ui.agent.turns(gone)) == 2

    thread, *_ = ui.sidebar.on_undo(gone)
    assert thread == gone and {i.thread_id for i in ui.agent.threads()} == {keep, gone}
    assert len(ui.agent.turns(gone)) == 2 and ui.chat_models.get("", gone) == "second"

    ui.sidebar.on_delete(gone)
    clock.now += timedelta(seconds=11)
    assert ui.sidebar.on_expire()[0] is None  # the page's timer: the window has ended
    assert ui.agent.turns(gone) == [] and ui.chat_models.get("", gone) is None
    assert [i.thread_id for i in ui.agent.threads()] == [keep]
    with pytest.raises(Exception, match="can no longer be restored"):
        ui.sidebar.on_undo(gone)


def test_a_deleted_chat_whose_page_closed_is_purged_by_the_next_listing(ui: ChatUI) -> None:
    clock = ui.sidebar.clock
    assert isinstance(clock, Clock)
    gone = ask(ui, "Tell me about zebras")
    ui.sidebar.on_delete(gone)
    clock.now = NOW + timedelta(seconds=11)
    ui.sidebar.show("", None)
    assert ui.agent.turns(gone) == []


def test_delete_with_no_chat_open_says_so(ui: ChatUI) -> None:
    with pytest.raises(Exception, match="No chat is open"):
        ui.sidebar.on_delete(None)


class Page:
    """What Gradio passes as the request: the page's session (and no login)."""

    def __init__(self, session_hash: str) -> None:
        self.session_hash, self.username = session_hash, None


def test_a_page_is_sent_the_chats_title_only_when_it_changed(ui: ChatUI) -> None:
    """A refresh of the rename box with the title it already shows is skipped: after an
    answer the list changes twice, and the second refresh overwrote what the user had
    started typing there."""
    zebra = ask(ui, "Tell me about zebras")
    page, other = Page("one"), Page("two")
    assert ui.sidebar.on_title(zebra, page)["value"] == "Tell me about zebras"  # type: ignore[arg-type]
    assert ui.sidebar.on_title(zebra, page) == {"__type__": "update"}  # type: ignore[arg-type]
    assert ui.sidebar.on_title(zebra, other)["value"] == "Tell me about zebras"  # type: ignore[arg-type]
    ui.sidebar.on_rename(zebra, "Zebras, renamed", page)  # type: ignore[arg-type]
    assert ui.sidebar.on_title(zebra, page)["value"] == "Zebras, renamed"  # type: ignore[arg-type]


def test_a_page_is_sent_the_list_again_only_when_it_changed(ui: ChatUI) -> None:
    # Re-rendering the radios drops a click that lands while the update is in flight.
    zebra = ask(ui, "Tell me about zebras")
    first, other = Page("one"), Page("two")
    assert ui.sidebar.on_search_chats("", zebra, first)[0]["value"] == zebra  # type: ignore[arg-type]
    skipped = ui.sidebar.on_search_chats("", zebra, first)  # type: ignore[arg-type]
    assert all(update == {"__type__": "update"} for update in skipped)
    assert ui.sidebar.on_search_chats("", zebra, other)[0]["value"] == zebra  # type: ignore[arg-type]
    assert ui.sidebar.on_search_chats("", None, first)[0]["value"] is None  # type: ignore[arg-type]
    ask(ui, "Tell me about giraffes")
    today = ui.sidebar.on_search_chats("", None, first)[0]  # type: ignore[arg-type]
    assert titles(today) == ["Tell me about giraffes", "Tell me about zebras"]
