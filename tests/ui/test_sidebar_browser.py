"""The past-chats sidebar in Debian's chromium (Playwright), at 1280×900 and 390×844.

`megrez-search ui` runs as a real process with the stand-in model, over a data dir seeded
with three chats last used today, three days ago and forty days ago. Issue 25: the chats
are a list grouped by date that opens a chat on a click (item 9); searching them never
clears the open chat nor disables Export (item 1); a chat is renamed, deleted, restored
with Undo and, once the undo window ends, gone for good; on a phone the sidebar button is a
whole button on the screen and the "Conversation" label sits above the messages.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from agent.api import AskRequest
from core.settings import Settings
from runtime import Runtime
from tests.support.page import DESKTOP, PHONE, VIEWPORTS, shot
from tests.support.processes import megrez_process
from tests.support.scripted import ScriptedModel
from tests.support.sidebar import chat_entries, listed_as_open, listed_chats, open_chat
from tests.support.standin_model import serve_standin_model
from wiring import search_agent

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow  # drives chromium

UNDO_S = 4
LOAD_MS = 60_000  # a page or an answer on a busy two-core machine
#: (question, answer, days since last used)
SEEDED = (
    ("Lists: how do I sort a list?", "Use sorted() or list.sort().", 0),
    ("Dicts: how do I merge two dicts?", "Use a | b.", 3),
    ("Sets: what is a frozenset?", "An immutable set.", 40),
)


@dataclass
class Site:
    url: str
    settings: Settings


def seed(settings: Settings) -> None:
    model = ScriptedModel([answer for _, answer, _ in SEEDED], dialect="generic")
    with search_agent(settings, Runtime(model, settings)) as agent:
        for question, _, _ in SEEDED:
            agent.invoke(AskRequest(question, search=False))
    database = sqlite3.connect(settings.store.conversations_path)
    with database:
        for question, _, days in SEEDED:
            when = (datetime.now() - timedelta(days=days)).isoformat(timespec="microseconds")
            database.execute(
                "UPDATE megrez_threads SET updated_at = ? WHERE title = ?", (when, question)
            )
    database.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("sidebar")
    settings = Settings(data_dir=folder / "data")
    seed(settings)
    with serve_standin_model() as model:
        env = {"MEGREZ_MODEL": model.spec, "MEGREZ_UNDO_DELETE_S": str(UNDO_S)}
        with megrez_process(["ui"], settings, "/", folder / "ui.log", env) as url:
            yield Site(url, settings)


def open_page(browser: Any, site: Site, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(site.url)
    expect(page.locator("#question textarea")).to_be_visible(timeout=LOAD_MS)
    page.locator("#search-toggle input").uncheck()  # the stand-in model does not search
    return page


def show_sidebar(page: Any, viewport: dict[str, int]) -> None:
    if viewport is PHONE:
        page.locator(".sidebar .toggle-button").click()
    expect(page.locator("#chat-search")).to_be_in_viewport()


def show_chat(page: Any, viewport: dict[str, int]) -> None:
    if viewport is PHONE:
        page.locator(".sidebar .toggle-button").click()
    expect(page.locator("#question")).to_be_in_viewport()


def ask(page: Any, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    expect(page.locator("#status")).to_contain_text("Answered", timeout=LOAD_MS)
    expect(first_question(page)).to_have_text(question)


def first_question(page: Any) -> Any:
    return page.locator("#chat [data-testid='user']").first


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_past_chats_are_a_list_grouped_by_date(
    browser: Any, site: Site, viewport: dict[str, int]
) -> None:
    page = open_page(browser, site, viewport)
    show_sidebar(page, viewport)
    lists, dicts, sets = (question for question, _, _ in SEEDED)
    for elem_id, heading, title in (
        ("chats-today", "Today", lists),
        ("chats-week", "Previous 7 days", dicts),
        ("chats-older", "Older", sets),
    ):
        group = page.locator(f"#{elem_id}")
        expect(group).to_contain_text(heading)
        expect(group.locator("label")).to_contain_text(title)
    older = (datetime.now() - timedelta(days=40)).strftime("%b %Y")
    expect(chat_entries(page, sets)).to_contain_text(older)  # each chat shows its date
    assert listed_chats(page)[-3:] == [lists, dicts, sets]
    open_chat(page, sets)
    expect(first_question(page)).to_have_text(sets)
    expect(page.locator("#chat")).to_contain_text("An immutable set.")
    expect(chat_entries(page, sets)).to_have_class(re.compile("selected"))
    shot(page, f"ui-sidebar-{'desktop' if viewport is DESKTOP else 'phone'}.png")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_searching_chats_keeps_the_open_chat_and_export(
    browser: Any, site: Site, viewport: dict[str, int]
) -> None:
    page = open_page(browser, site, viewport)
    question = f"Keep me open ({'desktop' if viewport is DESKTOP else 'phone'})?"
    ask(page, question)
    expect(page.locator("#export")).to_be_enabled()
    show_sidebar(page, viewport)
    search = page.get_by_label("Search chats")
    search.fill("merge dicts")
    expect(page.locator("#chat-search-count")).to_have_text("1 chat found")
    search.press("Tab")  # on to the list (before: the Past chats dropdown, opened)
    page.locator("#chat-search-count").click()  # click away
    if viewport is DESKTOP:
        page.locator("#chat").click(position={"x": 400, "y": 300})
    expect(first_question(page)).to_have_text(question)
    expect(page.locator("#export")).to_be_enabled()
    expect(chat_entries(page)).to_have_count(1)  # the results, inline in the list
    expect(chat_entries(page).first).to_contain_text("Dicts")
    search.fill("")
    expect(chat_entries(page, question)).to_have_count(1)
    expect(chat_entries(page, question)).to_have_class(re.compile("selected"))
    expect(first_question(page)).to_have_text(question)
    expect(page.locator("#export")).to_be_enabled()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_rename_delete_undo_and_gone_after_the_window(
    browser: Any, site: Site, viewport: dict[str, int]
) -> None:
    page = open_page(browser, site, viewport)
    tag = "desktop" if viewport is DESKTOP else "phone"
    question, renamed = f"Tuples {tag}: are they immutable?", f"Tuples, renamed ({tag})"
    ask(page, question)
    show_sidebar(page, viewport)
    listed_as_open(page, question)  # the list (and so the title box) has caught up
    title = page.locator("#chat-title textarea, #chat-title input").first
    expect(title).to_have_value(question)
    title.fill(renamed)
    page.locator("#rename-chat").click()
    expect(chat_entries(page, renamed)).to_have_count(1)
    expect(chat_entries(page, question)).to_have_count(0)

    page.locator("#delete-chat").click()
    bar = page.locator("#undo-bar")
    expect(bar).to_contain_text("Chat deleted")
    expect(bar.get_by_role("button", name="Undo")).to_be_in_viewport()
    expect(chat_entries(page, renamed)).to_have_count(0)
    expect(page.locator("#chat [data-testid='user']")).to_have_count(0)
    shot(page, f"ui-sidebar-undo-{tag}.png")
    bar.get_by_role("button", name="Undo").click()
    expect(bar).to_be_hidden()
    expect(chat_entries(page, renamed)).to_have_count(1)
    expect(first_question(page)).to_have_text(question)

    page.locator("#delete-chat").click()
    expect(bar).to_be_visible()
    expect(bar).to_be_hidden(timeout=UNDO_S * 1000 + 30_000)  # the window ends
    page.reload()
    expect(page.locator("#question textarea")).to_be_visible(timeout=LOAD_MS)
    expect(chat_entries(page, SEEDED[0][0])).to_have_count(1)
    expect(chat_entries(page, renamed)).to_have_count(0)
    database = sqlite3.connect(site.settings.store.conversations_path)
    try:
        rows = database.execute(
            "SELECT COUNT(*) FROM megrez_threads WHERE title = ?", (renamed,)
        ).fetchall()
    finally:
        database.close()
    assert rows == [(0,)]  # purged, not only hidden


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_sidebar_button_whole_and_conversation_label_above_the_messages(
    browser: Any, site: Site, viewport: dict[str, int]
) -> None:
    page = open_page(browser, site, viewport)
    ask(page, "Where does the label go?")
    page.evaluate("() => window.scrollTo(0, 0)")
    geometry = page.evaluate(
        """() => {
            const box = (el) => { const r = el.getBoundingClientRect();
                return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
            const toggle = document.querySelector('.sidebar .toggle-button');
            const t = box(toggle);
            const hit = document.elementFromPoint((t.left + t.right) / 2, (t.top + t.bottom) / 2);
            const label = document.querySelector('#chat [data-testid="block-label"]');
            const log = document.querySelector('#chat [role="log"]');
            return {toggle: t, onTop: toggle.contains(hit), label: box(label), log: box(log),
                    chat: box(document.querySelector('#chat')),
                    width: window.innerWidth, height: window.innerHeight};
        }"""
    )
    toggle, label, log = geometry["toggle"], geometry["label"], geometry["log"]
    assert toggle["left"] >= 0 and toggle["right"] <= geometry["width"], geometry
    assert toggle["top"] >= 0 and toggle["bottom"] <= geometry["height"], geometry
    assert geometry["onTop"], geometry
    if viewport is PHONE:  # a whole touch target, clear of the conversation
        assert toggle["right"] - toggle["left"] >= 44 and toggle["bottom"] - toggle["top"] >= 44
        assert toggle["bottom"] <= geometry["chat"]["top"], geometry
        # The label in its own row: the messages never scroll under it. (At 1280 px it still
        # floats over the conversation's empty top corner, where it costs no height.)
        assert label["bottom"] <= log["top"], geometry
    show_sidebar(page, viewport)
    expect(page.locator("#chat-search")).to_be_in_viewport()
    show_chat(page, viewport)
