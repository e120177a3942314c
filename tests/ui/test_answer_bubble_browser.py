"""The answer bubble in Debian's chromium (issue 25 items 3-6, issue 24 item 3): sources
before the first word and one live status line, Stop that moves nothing, whole card titles,
uncited cards marked, plain snippets and the site's name and icon, history as it was shown
(summary, time, model, "Stopped."), code with a Copy button, chips gone while the next answer
is written; and the API's stream sending the sources before the first word. The app runs in
this process over a `ResponderModel` and a real `local:` index of a small site on loopback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from runtime import Runtime
from server.app import create_api
from tests.support.api_server import serve_app
from tests.support.browser import clipboard_text
from tests.support.docs_index import run_cli
from tests.support.lru_site import QUESTION
from tests.support.media import icon_bytes
from tests.support.page import (
    DESKTOP,
    VIEWPORTS,
    finished,
    last_answer,
    layout_settled,
    open_page,
    send,
    shot,
    tag,
)
from tests.support.responder import ResponderModel
from tests.support.servers import free_port, serve_directory
from ui.app import ChatUI
from ui.launch import launch_chat
from wiring import search_agent

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow  # builds a small index, drives chromium

LONG_TITLE = "functools — Higher-order functions and operations on callable objects"
SITE = "Python 3.13 documentation"
CODE = "@lru_cache(maxsize=None)\ndef fib(n): ..."
ANSWER = f"The default maxsize of lru_cache is 128 [1].\n\n```python\n{CODE}\n```"
PAGES = {
    "site/index.html": '<a href="cache.html">one</a> <a href="notes.html">two</a>',
    "site/cache.html": f"<html><head><title>{LONG_TITLE} — {SITE}</title>"
    '<link rel="icon" href="icon.gif"></head><body>'
    "<main><h1>lru_cache maxsize</h1><p>The <em>lru_cache</em> decorator keeps recent calls. "
    "Its <strong>maxsize</strong> defaults to 128 entries.</p>"
    "<pre><code>@lru_cache(maxsize=128)\ndef f(x): return x</code></pre></main></body></html>",
    "site/notes.html": "<html><head><title>Caching notes | Team wiki</title></head><body><main>"
    "<p>Our notes say the lru_cache maxsize default of 128 entries is fine.</p></main>"
    "</body></html>",
}


class App:
    def __init__(self, url: str, ui: ChatUI, model: ResponderModel, settings: Settings) -> None:
        self.url, self.ui, self.model, self.settings = url, ui, model, settings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    root = tmp_path_factory.mktemp("bubble-site")
    for name, text in PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "site" / "icon.gif").write_bytes(icon_bytes("GIF"))
    data = tmp_path_factory.mktemp("bubble-data")
    with serve_directory(root) as base:
        built = run_cli("index", f"{base}/site/", "--name", "site", "--no-progress", data_dir=data)
        assert built.returncode == 0, built.stderr
        settings = Settings(
            data_dir=data,
            allow_hosts="127.0.0.1,localhost",
            search="local:site",
            decide_bias=1.0,
            grounding="off",  # the scripted answer is what is shown
        )
        model = ResponderModel(answer=ANSWER)
        agent = search_agent(settings, Runtime(model, settings))
        ui = ChatUI(agent, settings)
        demo = launch_chat(ui, "127.0.0.1", free_port(), block=False)
        try:
            yield App(demo.local_url, ui, model, settings)
        finally:
            model.release.set()
            demo.close()
            agent.close()


def box_of(page: Any, selector: str) -> dict[str, float]:
    """Where `selector` sits on the page (not in the viewport: a scroll is not a jump)."""
    box = page.locator(selector).bounding_box()
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    return box | {"x": box["x"] + scroll[0], "y": box["y"] + scroll[1]}


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_sources_show_before_the_first_word_under_one_status_line_and_stop_moves_nothing(
    browser: Any, app: App, viewport: dict[str, int]
) -> None:
    page = open_page(browser, app.url, viewport, clipboard=True)
    stop = page.locator("#stop")
    expect(stop).to_be_hidden()
    layout_settled(page)  # the sidebar has slid open
    idle = {name: box_of(page, name) for name in ("#controls", "#stop", "#question")}
    app.model.release.clear()  # the model reads its sources until released
    try:
        send(page, f"WAIT {QUESTION}")
        answer = last_answer(page)
        expect(answer.locator(".source-card")).to_have_count(2)
        expect(answer).not_to_contain_text("default maxsize")  # no word written yet
        # One live line, the progress block's title; the line under the chat says nothing.
        expect(page.locator("#chat .thought-group .title")).to_contain_text("Writing the answer")
        expect(page.locator("#status")).to_have_text("")
        expect(stop).to_be_visible()
        assert {name: box_of(page, name) for name in idle} == idle  # Stop took its own place
        shot(page, f"ui-sources-first-{tag(viewport)}.png")
    finally:
        app.model.release.set()
    finished(page)
    expect(last_answer(page)).to_contain_text("default maxsize of lru_cache is 128")
    expect(stop).to_be_hidden()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_cards_show_whole_titles_site_names_plain_snippets_and_which_are_not_cited(
    browser: Any, app: App, viewport: dict[str, int]
) -> None:
    page = open_page(browser, app.url, viewport, clipboard=True)
    send(page, QUESTION)
    finished(page)
    cards = last_answer(page).locator(".source-card")
    expect(cards).to_have_count(2)
    cited = last_answer(page).locator(".source-card:not(.uncited)")
    uncited = last_answer(page).locator(".source-card.uncited")
    expect(cited).to_have_count(1)
    expect(uncited).to_have_count(1)
    expect(uncited).to_contain_text("not cited")
    expect(cited).not_to_contain_text("not cited")
    # The whole title is shown (wrapped, not cut to a few characters).
    for title in cards.locator(".source-title").all():
        shown = title.evaluate(
            "t => t.scrollWidth <= t.clientWidth && t.scrollHeight <= t.clientHeight + 1"
        )
        assert shown, title.text_content()
    sites = cards.locator(".source-site").all_text_contents()
    assert sorted(sites) == sorted([SITE, "Team wiki"])
    # The page's declared icon, through the Chatbot's sanitiser and the CSP, drawn at 16 px.
    icon = cited.locator(".source-site img.source-icon")
    expect(icon).to_be_visible()
    assert icon.evaluate("i => [i.src.slice(0, 22), i.naturalWidth, i.width, i.alt]") == [
        "data:image/png;base64,",
        32,
        16,
        "",
    ]
    expect(uncited.locator("img")).to_have_count(0)
    snippets = " ".join(cards.locator(".source-snippet").all_text_contents())
    assert "maxsize" in snippets and not re.search(r"\*|`", snippets), snippets
    shot(page, f"ui-source-cards-{tag(viewport)}.png")


def test_a_reload_shows_each_answer_as_it_was_shown_including_stopped(
    browser: Any, app: App
) -> None:
    page = open_page(browser, app.url, DESKTOP, clipboard=True)
    send(page, QUESTION)
    finished(page)
    summary = page.locator("#chat .thought-group .title").last.inner_text()
    assert re.search(r"Searched 1 query · read \d pages? · \d+\.\d s", summary), summary
    meta = last_answer(page).locator(".answer-meta")
    expect(meta).to_contain_text(re.compile(r"^\d\d:\d\d · scripted-generic$"))
    shown_meta = meta.inner_text()
    app.model.release.clear()
    try:
        send(page, f"HOLD: {QUESTION}")
        expect(last_answer(page)).to_contain_text("carefully")
        page.keyboard.press("Escape")
        finished(page)
    finally:
        app.model.release.set()
    expect(last_answer(page)).to_have_text("⚠ Stopped.")
    page.reload()
    expect(page.locator("#chat [data-testid='user']")).to_have_count(2)
    expect(page.locator("#chat .thought-group .title").first).to_have_text(summary)
    expect(page.locator("#chat .answer-meta").first).to_have_text(shown_meta)
    expect(last_answer(page)).to_have_text("⚠ Stopped.")


def test_code_in_an_answer_has_a_copy_button(browser: Any, app: App) -> None:
    page = open_page(browser, app.url, DESKTOP, clipboard=True)
    send(page, QUESTION)
    finished(page)
    button = last_answer(page).locator("pre .copy-code")
    expect(button).to_have_text("Copy")
    button.click()
    assert clipboard_text(page, "def fib").strip() == CODE
    expect(button).to_have_text("Copied")


def test_chips_of_the_last_answer_go_away_while_the_next_is_written(browser: Any, app: App) -> None:
    page = open_page(browser, app.url, DESKTOP, clipboard=True)
    chips = page.locator("#followups button")
    send(page, f"WAIT {QUESTION}")  # released: answered at once
    finished(page)
    expect(chips.first).to_be_visible()
    assert not any("`" in text or "*" in text for text in chips.all_text_contents())
    app.model.release.clear()
    try:
        page.locator("#regenerate").click()  # the same question again, still being read
        expect(page.locator("#stop")).to_be_visible()
        expect(chips.first).to_be_hidden()
    finally:
        app.model.release.set()
    finished(page)


def test_the_api_stream_sends_the_sources_before_the_first_word(app: App) -> None:
    agent = search_agent(app.settings, Runtime(ResponderModel(answer=ANSWER), app.settings))
    body = {"model": "megrez-search", "stream": True}
    body["messages"] = [{"role": "user", "content": QUESTION}]
    url = "/v1/chat/completions"
    with (
        serve_app(create_api(agent, app.settings)) as base,
        httpx.stream("POST", base + url, json=body, timeout=60) as reply,
    ):
        lines = [line for line in reply.iter_lines() if line.startswith("data: {")]
    agent.close()
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines]
    first_word = next(i for i, c in enumerate(chunks) if c["choices"][0]["delta"].get("content"))
    early = [c for c in chunks[:first_word] if c.get("sources")]
    assert len(early) == 1 and early[0]["megrez_event"]["type"] == "sources"
    assert [s["n"] for s in early[0]["sources"]] == [1, 2]
    assert early[0]["sources"] == chunks[-1]["sources"]  # the same as the last chunk's
