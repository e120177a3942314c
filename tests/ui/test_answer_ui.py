"""The answer UI in Debian's chromium (Playwright), fast: the app runs in this process over a
`ResponderModel` (scripted, in the real wire format) and real `local:` indexes of a small
site served on loopback. Each flow runs at 1280×900 and at 390×844 (a phone) where the
issue asks for it, and saves a screenshot to test-artifacts/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from runtime import Runtime
from tests.support.browser import clipboard_text
from tests.support.docs_index import run_cli
from tests.support.lru_site import PAGES as LRU_SITE
from tests.support.lru_site import QUESTION
from tests.support.page import (
    AXE,
    DESKTOP,
    PHONE,
    VIEWPORTS,
    ask,
    finished,
    last_answer,
    open_page,
    shot,
)
from tests.support.responder import ResponderModel
from tests.support.servers import free_port, serve_directory
from tests.support.sidebar import chat_entries, listed_as_open, open_chat
from ui.app import ChatUI
from ui.launch import launch_chat
from ui.render import plain
from wiring import search_agent

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow  # builds three small indexes, drives chromium


HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
PAGES = {
    **LRU_SITE,
    "site/index.html": '<a href="cache.html">cache</a> <a href="hostile.html">more</a>',
    "hostile/index.html": "<html><head><title>"
    + HOSTILE.replace("&", "&amp;").replace("<", "&lt;")
    + " lru_cache maxsize</title></head><body><main><p>The lru_cache maxsize is 128 by "
    "default. " + HOSTILE.replace("<", "&lt;") + "</p></main></body></html>",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("answer-site")
    for name, text in PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    data = tmp_path_factory.mktemp("answer-data")
    with serve_directory(root) as base:
        for name in ("site", "notes", "hostile"):
            built = run_cli(
                "index", f"{base}/{name}/", "--name", name, "--no-progress", data_dir=data
            )
            assert built.returncode == 0, built.stderr
        yield data, base


class App:
    def __init__(self, url: str, ui: ChatUI, models: dict[str, ResponderModel]) -> None:
        self.url, self.ui, self.models = url, ui, models


def open_app(browser: Any, app: App, viewport: dict[str, int], **options: Any) -> Any:
    return open_page(browser, app.url, viewport, clipboard=True, accept_downloads=True, **options)


@pytest.fixture(scope="module")
def app(site: tuple[Path, str]) -> Iterator[App]:
    data, _ = site
    settings = Settings(
        data_dir=data,
        allow_hosts="127.0.0.1,localhost",
        search="local:site",
        decide_bias=1.0,
        models="embedded,second",
    )
    models = {"embedded": ResponderModel(), "second": ResponderModel("Second model")}
    agent = search_agent(
        settings,
        Runtime(models["embedded"], settings),
        load=lambda s: Runtime(models[s.runtime.model], s),
    )
    ui = ChatUI(agent, settings)
    demo = launch_chat(ui, "127.0.0.1", free_port(), block=False)
    try:
        yield App(demo.local_url, ui, models)
    finally:
        for model in models.values():
            model.release.set()
        demo.close()
        agent.close()


def open_sidebar(page: Any, viewport: dict[str, int]) -> None:
    if viewport is PHONE:
        expect(page.locator("#past-chats")).not_to_be_in_viewport()  # behind its button
        page.locator(".sidebar .toggle-button").click()
    expect(page.locator("#past-chats")).to_be_in_viewport()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_cited_answer_cards_preview_followups_regenerate_copy_export(
    browser: Any, app: App, viewport: dict[str, int]
) -> None:
    page = open_app(browser, app, viewport)
    tag = "desktop" if viewport is DESKTOP else "phone"
    expect(page.locator("#stop")).to_be_hidden()  # nothing runs
    ask(page, QUESTION)
    answer = last_answer(page)
    # One collapsed progress block, then the answer with its citation and source cards.
    expect(page.locator("#chat .thought-group")).to_have_count(1)
    expect(page.locator("#chat .thought-group .title")).to_contain_text(
        re.compile(r"Searched 1 query · read \d+ pages? · \d+\.\d s")
    )
    card = answer.locator(".source-card").first
    expect(card).to_contain_text("functools lru_cache maxsize")
    expect(card.locator(".source-site")).to_have_text("127.0.0.1")
    expect(card.locator(".source-snippet")).to_contain_text("defaults to 128")
    cite = answer.locator("a.cite").first
    expect(cite).to_have_text("[1]")
    expect(card.locator(".source-n")).to_have_text("1")  # the same number in text and card
    # The cards are the recorded sources (what the API returns), number for number.
    thread = app.ui.agent.threads()[0].thread_id
    recorded = app.ui.agent.turns(thread)[-1]["sources"]
    cards = answer.locator(".source-card")
    expect(cards).to_have_count(len(recorded))
    for index, source in enumerate(recorded):
        expect(cards.nth(index).locator(".source-n")).to_have_text(str(source["n"]))
        expect(cards.nth(index).locator(".source-title")).to_have_text(source["title"])
        expect(cards.nth(index).locator(".source-snippet")).to_have_text(source["snippet"])
    shot(page, f"ui-answer-cards-{tag}.png")

    # The citation preview: hover on a desktop, tap on a phone; the passage and its page.
    if viewport is DESKTOP:
        cite.hover()
    else:
        cite.tap()
    preview = page.locator("#cite-preview")
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("defaults to 128 entries")
    # The passage's sentence that supports the answer's is highlighted, and the chip opens
    # the page at it (a text fragment).
    expect(preview.locator("mark")).to_have_text(
        "Its maxsize defaults to 128 entries; maxsize=None makes the cache unbounded."
    )
    expect(cite).to_have_attribute("href", re.compile(r"cache\.html#:~:text=Its%20maxsize"))
    expect(preview.locator("a.preview-title")).to_have_attribute(
        "href", re.compile(r"cache\.html#:~:text=Its%20maxsize")
    )
    shot(page, f"ui-citation-preview-{tag}.png")
    page.keyboard.press("Escape")
    expect(preview).to_be_hidden()

    # Follow-up chips, written after the answer; one click asks it in the same chat.
    chips = page.locator("#followups button:visible")
    expect(chips).to_have_count(3)
    first = chips.first.inner_text()
    assert first.endswith("?")
    shot(page, f"ui-followups-{tag}.png")
    calls_before = len(app.models["embedded"].calls)
    chips.first.click()
    expect(page.locator("#chat [data-testid='user']").last).to_contain_text(first)
    finished(page)
    # The model answered it with the earlier question and answer in its prompt.
    answered = [c for c in app.models["embedded"].calls[calls_before:] if c.options is None]
    assert any(QUESTION in "\n".join(m.content for m in c.messages) for c in answered)

    # Regenerate: the last answer is written again, in place.
    users = page.locator("#chat [data-testid='user']").count()
    before = last_answer(page).inner_text()
    page.locator("#regenerate").click()
    expect(last_answer(page)).not_to_have_text(before)
    finished(page)
    expect(page.locator("#chat [data-testid='user']")).to_have_count(users)
    shot(page, f"ui-regenerated-{tag}.png")

    # Copy an answer with its sources; export the whole conversation.
    page.locator("#copy-answer").click()
    copied = clipboard_text(page, "Sources")
    assert "maxsize default is 128" in copied and "/site/cache.html" in copied
    with page.expect_download() as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    # Markdown escapes keep page and model text inert in any viewer (`lru\_cache`).
    assert exported.startswith(f"# {plain(QUESTION)}") and f"## {plain(first)}" in exported
    assert (
        "The lru\\_cache maxsize default is 128 [1]" in exported and "/site/cache.html)" in exported
    )
    assert page.dialogs == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_delete_and_search_past_chats(browser: Any, app: App, viewport: dict[str, int]) -> None:
    page = open_app(browser, app, viewport)
    tag = "desktop" if viewport is DESKTOP else "phone"
    zebra = f"Zebra {tag}: what is the lru_cache maxsize default?"
    ask(page, zebra)
    open_sidebar(page, viewport)
    page.locator("#new-chat").click()
    if viewport is PHONE:
        page.locator(".sidebar .toggle-button").click()  # back to the conversation
    ask(page, f"Giraffe question {tag}?")
    open_sidebar(page, viewport)
    # Words of the title and of the answer's text ("128") together find the chat.
    page.get_by_label("Search chats").fill(f"zebra {tag} 128")
    expect(page.locator("#chat-search-count")).to_have_text("1 chat found")
    options = chat_entries(page)
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text(zebra)
    shot(page, f"ui-search-chats-{tag}.png")
    options.first.click()  # opens it
    expect(page.locator("#chat [data-testid='user']").first).to_contain_text(zebra)
    page.get_by_label("Search chats").fill(f"giraffe {tag} 128")  # its answer has no 128
    expect(page.locator("#chat-search-count")).to_have_text("0 chats found")
    page.locator("#delete-chat").click()  # deletes the open (zebra) chat
    expect(page.locator("#chat [data-testid='user']")).to_have_count(0)
    expect(page.locator("#undo-bar")).to_contain_text("Chat deleted")
    titles = [info.title for info in app.ui.agent.threads()]
    assert zebra not in titles and f"Giraffe question {tag}?" in titles
    shot(page, f"ui-deleted-chat-{tag}.png")


def test_model_and_scope_pickers_per_chat(browser: Any, app: App) -> None:
    page = open_app(browser, app, DESKTOP)
    ask(page, QUESTION)
    expect(last_answer(page).locator("p").first).to_contain_text(re.compile(r"^Answer \d+"))
    page.locator("#model input").click()
    page.get_by_role("option", name="second").click()
    page.locator("#scope input").click()
    page.get_by_role("option", name="Index: notes").click()
    ask(page, "And what do the notes say about lru_cache maxsize?")
    answer = last_answer(page)
    expect(answer.locator("p").first).to_contain_text(re.compile(r"^Second model \d+"))
    expect(answer.locator(".source-card").first).to_contain_text("Team notes on lru_cache")
    expect(answer.locator("a.cite").first).to_have_attribute("href", re.compile("/notes/"))
    shot(page, "ui-model-scope-pickers.png")
    # The model is per chat: a new chat on "embedded"; reopening the first brings "second".
    page.locator("#new-chat").click()
    page.locator("#model input").click()
    page.get_by_role("option", name="embedded", exact=True).click()
    # Search off: the notes index cannot answer this one, and a failed search is not guessed at.
    page.get_by_label("Web search").uncheck()
    ask(page, "Pickers: a chat of its own?")
    expect(page.locator("#chat")).to_contain_text(re.compile(r"Answer \d+\. A reply"))
    listed_as_open(page, "Pickers: a chat of its own?")
    for title, model in ((QUESTION, "second"), ("Pickers: a chat of its own?", "embedded")):
        open_chat(page, title)
        # Opening a chat is a queued event now (the sidebar list): it waits its turn.
        expect(page.locator("#chat [data-testid='user']").first).to_contain_text(
            title, timeout=30_000
        )
        expect(page.locator("#model input")).to_have_value(model)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_stop_only_while_running_and_esc_stops(
    browser: Any, app: App, viewport: dict[str, int]
) -> None:
    page = open_app(browser, app, viewport)
    stop = page.locator("#stop")
    expect(stop).to_be_hidden()
    page.get_by_label("Web search").uncheck()
    box = page.locator("#question textarea")
    box.fill("HOLD: tell me a long story")
    box.press("Enter")
    expect(stop).to_be_visible()
    expect(last_answer(page)).to_contain_text("carefully")
    shot(page, f"ui-stop-visible-{'desktop' if viewport is DESKTOP else 'phone'}.png")
    page.keyboard.press("Escape")
    expect(page.locator("#status")).to_contain_text("Stopped")
    expect(stop).to_be_hidden()


def test_keyboard_only_flow(browser: Any, app: App) -> None:
    page = open_app(browser, app, DESKTOP)
    # Tab from the top of the page reaches the message box.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('#question textarea')"):
            break
    else:
        pytest.fail("Tab never reached the message box")
    page.keyboard.type("What is the default")
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    page.keyboard.type("maxsize of lru_cache?")
    expect(page.locator("#question textarea")).to_have_value(
        "What is the default\nmaxsize of lru_cache?"
    )
    page.keyboard.press("Enter")
    expect(page.locator("#chat [data-testid='user']")).to_have_count(1)
    finished(page)
    # A citation takes focus like any link, and its preview opens and closes from the keys.
    page.locator("#chat a.cite").first.focus()
    expect(page.locator("#cite-preview")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#cite-preview")).to_be_hidden()
    shot(page, "ui-keyboard.png")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_axe_finds_no_serious_violations(browser: Any, app: App, viewport: dict[str, int]) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE}): run `make test-deps`")
    page = open_app(browser, app, viewport, bypass_csp=True)  # axe is injected inline
    ask(page, QUESTION)
    expect(page.locator("#followups button:visible")).to_have_count(3)
    expect(page.locator("#regenerate")).to_be_enabled()  # the page at rest, not mid-update
    fade = "el => getComputedStyle(el).transitionDuration"
    assert page.eval_on_selector("#regenerate", fade) == "0s"  # no half-contrast moment
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    violations = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in json.loads(result)["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert violations == [], violations


def test_hostile_page_text_stays_text_in_cards_previews_followups_exports(
    browser: Any, app: App, tmp_path: Path
) -> None:
    page = open_app(browser, app, DESKTOP)
    page.locator("#scope input").click()
    page.get_by_role("option", name="Index: hostile").click()
    ask(page, QUESTION)
    answer = last_answer(page)
    expect(answer.locator(".source-card").first).to_contain_text("<script>window.__pwned = 1")
    expect(answer.locator(".source-snippet").first).to_contain_text('onerror="window.__pwned')
    answer.locator("a.cite").first.hover()
    expect(page.locator("#cite-preview")).to_contain_text("<img src=x onerror=")
    chips = page.locator("#followups button:visible")
    expect(chips.first).to_contain_text("<script>")  # the model echoed the hostile title
    shot(page, "ui-hostile-cards-preview-followups.png")
    with page.expect_download() as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "<script" not in exported and "<img" not in exported
    assert "&lt;script&gt;" in exported
    injected = page.evaluate(
        """() => {
            const scopes = '#chat, #cite-preview, #followups';
            const inside = (sel) => [...document.querySelectorAll(scopes)]
                .reduce((n, el) => n + el.querySelectorAll(sel).length, 0);
            return {scripts: inside('script'), images: inside('img'),
                    handlers: inside('[onerror], [onload], [onclick]'),
                    pwned: window.__pwned ?? null};
        }"""
    )
    assert injected == {"scripts": 0, "images": 0, "handlers": 0, "pwned": None}
    assert page.dialogs == []
