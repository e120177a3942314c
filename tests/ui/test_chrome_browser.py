"""The page chrome and its controls in Debian's chromium (Playwright), at 1280×900 and
390×844 (issue 25 items 2, 7, 8, 10; the browser search engine; axe-core).

The app runs in this process over a `ResponderModel` (scripted, in the real wire format)
and a real `local:` index of a small site served on loopback; the voice question goes
through the real faster-whisper model; the login is Gradio's own page over real accounts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts import Accounts
from core.settings import Settings
from runtime import Runtime
from store import open_database
from tests.support.browser import clipboard_text
from tests.support.docs_index import run_cli
from tests.support.lru_site import PAGES, QUESTION
from tests.support.media import SPOKEN_QUESTION, speak
from tests.support.page import AXE, DESKTOP, PHONE, VIEWPORTS, ask, finished, open_page, shot, tag
from tests.support.responder import ResponderModel
from tests.support.servers import free_port, serve_directory
from ui.app import ChatUI
from ui.launch import launch_chat
from wiring import search_agent

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow  # builds a small index, drives chromium

PASSWORD = "carol-password"


class App:
    def __init__(self, url: str, ui: ChatUI, model: ResponderModel) -> None:
        self.url, self.ui, self.model = url, ui, model


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("chrome-site")
    for name, text in PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    with serve_directory(root) as base:
        yield base


def start_app(data: Path, base: str, accounts: dict[str, str] | None = None) -> Iterator[App]:
    for name in ("site", "notes"):
        built = run_cli("index", f"{base}/{name}/", "--name", name, "--no-progress", data_dir=data)
        assert built.returncode == 0, built.stderr
    settings = Settings(
        data_dir=data, allow_hosts="127.0.0.1,localhost", search="local:site", decide_bias=1.0
    )
    if accounts:
        database = open_database(settings.store)
        for name, password in accounts.items():
            Accounts(database).add(name, password)
        database.close()
    model = ResponderModel()
    ui = ChatUI(search_agent(settings, Runtime(model, settings)), settings)
    demo = launch_chat(ui, "127.0.0.1", free_port(), block=False)
    try:
        yield App(demo.local_url.rstrip("/"), ui, model)
    finally:
        model.release.set()
        demo.close()
        ui.agent.close()


@pytest.fixture(scope="module")
def app(site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    yield from start_app(tmp_path_factory.mktemp("chrome-data"), site)


@pytest.fixture(scope="module")
def login_app(site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    yield from start_app(tmp_path_factory.mktemp("chrome-login"), site, {"carol": PASSWORD})


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak(SPOKEN_QUESTION, tmp_path_factory.mktemp("voice") / "question.wav")


def title_of(app: App, thread_id: str) -> str:
    return next(i.title for i in app.ui.agent.threads() if i.thread_id == thread_id)


# --- item 2: voice ----------------------------------------------------------------------


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_voice_question_is_transcribed_into_the_box_then_sent_as_edited(
    browser: Any, app: App, viewport: dict[str, int], spoken: Path
) -> None:
    page = open_page(browser, app.url, viewport)
    users = page.locator("#chat [data-testid='user']")
    page.locator("#question input[type=file]").set_input_files([str(spoken)])
    page.locator("#question textarea").press("Enter")
    box = page.locator("#question textarea")
    expect(box).to_have_value(re.compile(r"capital \w+ France", re.IGNORECASE), timeout=180_000)
    expect(page.locator("#status")).to_contain_text("Check the transcript")
    expect(users).to_have_count(0)  # nothing was asked yet
    shot(page, f"ui-voice-review-{tag(viewport)}.png")
    heard = box.input_value()
    box.press("End")
    box.type(" Answer briefly.")  # the user edits it, then Enter sends it
    box.press("Enter")
    expect(users).to_have_count(1)
    finished(page)
    expect(users.first).to_contain_text(f"{heard} Answer briefly.")
    stored = app.ui.agent.threads()
    assert stored[0].title == f"{heard} Answer briefly.", stored[0].title


# --- item 7: the "Search in" picker -----------------------------------------------------


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_search_in_names_what_is_searched_and_is_off_without_search(
    browser: Any, app: App, viewport: dict[str, int]
) -> None:
    page = open_page(browser, app.url, viewport)
    scope = page.locator("#scope input")
    # This app searches only its local index `site`: the picker says so, never "Web".
    expect(scope).to_have_value("Index: site")
    scope.click()
    options = page.get_by_role("option")
    expect(options).to_contain_text(["Index: site", "Index: notes"])
    assert "Web" not in " ".join(options.all_inner_texts())
    page.keyboard.press("Escape")
    toggle = page.get_by_label("Web search")
    toggle.uncheck()
    expect(scope).to_be_disabled()
    shot(page, f"ui-search-in-off-{tag(viewport)}.png")
    toggle.check()
    expect(scope).to_be_enabled()


# --- item 8: the controls ---------------------------------------------------------------


def in_first_screen(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }""",
            selector,
        )
    )


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_controls_regenerate_copy_one_retry_no_one_click_clear(
    browser: Any, app: App, viewport: dict[str, int]
) -> None:
    page = open_page(browser, app.url, viewport)
    origin = app.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    regenerate, copy = page.locator("#regenerate"), page.locator("#copy-answer")
    expect(regenerate).to_be_disabled()  # an empty chat has nothing to regenerate or copy
    expect(copy).to_be_disabled()
    ask(page, QUESTION)
    expect(regenerate).to_be_enabled()
    expect(copy).to_be_enabled()
    # One retry control: Regenerate. No retry/undo/clear icons in the conversation.
    chat_buttons = page.locator("#chat button[aria-label]")
    labels = [
        label.lower()
        for label in chat_buttons.evaluate_all(
            "bs => bs.filter(b => b.offsetParent).map(b => b.ariaLabel)"
        )
    ]
    assert not [b for b in labels if re.search(r"retry|undo|clear|delete|trash", b)], labels
    if viewport is DESKTOP:  # at 1280×900 the answer tools are on the first screen
        page.evaluate("() => window.scrollTo(0, 0)")
        for selector in ("#regenerate", "#copy-answer", "#export"):
            assert in_first_screen(page, selector), selector
    copy.click()
    expect(copy).to_have_text("Copied ✓")
    assert "maxsize default is 128" in clipboard_text(page, "Sources")
    shot(page, f"ui-controls-copied-{tag(viewport)}.png")
    expect(copy).to_have_text("Copy answer", timeout=10_000)  # the label comes back
    page.locator(".sidebar .toggle-button").click() if viewport is PHONE else None
    page.locator("#new-chat").click()
    expect(regenerate).to_be_disabled()
    expect(copy).to_be_disabled()


# --- item 10: theme and heading ---------------------------------------------------------


def is_dark(page: Any) -> bool:
    return bool(page.evaluate("() => document.body.classList.contains('dark')"))


def background_of(page: Any, selector: str) -> str:
    return str(
        page.evaluate(
            "(s) => getComputedStyle(document.querySelector(s)).backgroundColor", selector
        )
    )


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_theme_toggle_is_remembered_and_the_preview_follows_it(
    browser: Any, app: App, viewport: dict[str, int]
) -> None:
    page = open_page(browser, app.url, viewport, color_scheme="light")
    expect(page.locator("h1")).to_have_text("Megrez Search")  # the page's one h1
    expect(page.locator("h1")).to_have_count(1)
    assert not is_dark(page)
    page.locator("#theme").get_by_label("Dark").check()
    page.wait_for_function("() => document.body.classList.contains('dark')")
    ask(page, QUESTION)
    cite = page.locator("#chat [data-testid='bot'] a.cite").last
    cite.focus()
    expect(page.locator("#cite-preview")).to_be_visible()
    # No white box on the dark page: the preview is dark with light text.
    assert background_of(page, "#cite-preview") == "rgb(31, 41, 55)"
    shot(page, f"ui-dark-preview-{tag(viewport)}.png")
    page.reload()  # the pick is kept in this browser
    expect(page.locator("#question textarea")).to_be_visible()
    expect(page.locator("#theme").get_by_label("Dark")).to_be_checked()
    assert is_dark(page)
    # "Light" holds against an OS in dark mode; "System" follows the OS.
    page.emulate_media(color_scheme="dark")
    page.locator("#theme").get_by_label("Light").check()
    page.wait_for_function("() => !document.body.classList.contains('dark')")
    page.reload()
    expect(page.locator("#theme").get_by_label("Light")).to_be_checked()
    assert not is_dark(page)
    page.locator("#theme").get_by_label("System").check()
    page.wait_for_function("() => document.body.classList.contains('dark')")


# --- the browser's search engine --------------------------------------------------------


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_q_in_the_address_opens_a_new_chat_and_asks_once(
    browser: Any, app: App, viewport: dict[str, int]
) -> None:
    page = open_page(browser, app.url, viewport)
    ask(page, f"An earlier chat {tag(viewport)}?")
    earlier = {info.thread_id for info in app.ui.agent.threads()}
    question = f"Where is lru_cache {tag(viewport)} & why?"
    page.goto(f"{app.url}/?q={question.replace(' ', '+').replace('&', '%26')}&search=0")
    users = page.locator("#chat [data-testid='user']")
    expect(users).to_have_count(1)
    expect(users.first).to_have_text(question, timeout=30_000)
    finished(page)
    assert "q=" not in page.url  # taken out of the address at once
    expect(page.get_by_label("Web search")).not_to_be_checked()
    expect(page.locator("#chat")).to_contain_text("A reply without sources")  # not searched
    new = [i for i in app.ui.agent.threads() if i.thread_id not in earlier]
    assert [i.title for i in new] == [question]  # a new chat; the earlier one is kept
    shot(page, f"ui-url-question-{tag(viewport)}.png")
    page.reload()  # a reload shows the chat and does not ask again
    expect(page.locator("#chat")).to_contain_text("A reply without sources")
    expect(users).to_have_count(1)
    assert len(app.ui.agent.turns(new[0].thread_id)) == 2
    page.goto(f"{app.url}/?q=Deep+question+{tag(viewport)}%3F&deep=1&search=0")
    expect(users.first).to_have_text(f"Deep question {tag(viewport)}?", timeout=30_000)
    expect(page.get_by_label("Deep research")).to_be_checked()
    finished(page)


def test_opensearch_description_is_linked_and_describes_q(browser: Any, app: App) -> None:
    page = open_page(browser, app.url, DESKTOP)
    link = page.locator("head link[rel=search]")
    expect(link).to_have_attribute("type", "application/opensearchdescription+xml")
    expect(link).to_have_attribute("title", "Megrez Search")
    href = link.get_attribute("href")
    response = page.request.get(app.url + href)
    assert response.ok
    assert response.headers["content-type"].startswith("application/opensearchdescription+xml")
    text = response.text()
    assert "<ShortName>Megrez Search</ShortName>" in text
    template = re.search(r'template="([^"]+)"', text)
    assert template and template.group(1) == f"{app.url}/?q={{searchTerms}}"
    # The template, filled in as a browser does, asks in the page.
    page.goto(template.group(1).replace("{searchTerms}", "What+is+lru_cache%3F"))
    expect(page.locator("#chat [data-testid='user']").first).to_have_text(
        "What is lru_cache?", timeout=30_000
    )
    finished(page)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_q_behind_the_login_is_asked_after_it(
    browser: Any, login_app: App, viewport: dict[str, int]
) -> None:
    page = browser.new_context(viewport=viewport, has_touch=viewport is PHONE).new_page()
    page.set_default_timeout(30_000)
    # The description needs no login; the page asks for one.
    assert page.request.get(login_app.url + "/opensearch.xml").ok
    question = f"Asked before the login {tag(viewport)}?"
    page.goto(f"{login_app.url}/?q={question.replace(' ', '+').replace('?', '%3F')}")
    page.locator("input[type=text]").first.fill("carol")
    page.locator("input[type=password]").fill(PASSWORD)
    expect(page.locator("head link[rel=search]")).to_have_count(1)
    page.get_by_role("button", name="Login").click()
    users = page.locator("#chat [data-testid='user']")
    expect(users.first).to_have_text(question, timeout=30_000)
    finished(page)
    assert "q=" not in page.url
    login = Accounts(login_app.ui.agent.store.database).verify("carol", PASSWORD)
    assert login is not None
    assert question in [i.title for i in login_app.ui.agent.threads(login.user_id)]
    page.reload()
    expect(users).to_have_count(1)


# --- axe-core ---------------------------------------------------------------------------

#: Violations the page cannot fix, with why (README "Accessibility").
AXE_ACCEPTED: dict[str, str] = {}


@pytest.mark.parametrize("theme", ["Light", "Dark"])
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_axe_finds_no_violation_of_any_level(
    browser: Any, app: App, viewport: dict[str, int], theme: str
) -> None:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE}): run `make test-deps`")
    page = open_page(browser, app.url, viewport, bypass_csp=True)  # axe is injected inline
    page.locator("#theme").get_by_label(theme).check()
    ask(page, QUESTION)
    expect(page.locator("#followups button:visible")).to_have_count(3)
    page.add_script_tag(path=str(AXE))
    result = json.loads(page.evaluate("async () => JSON.stringify(await axe.run(document))"))
    violations = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["id"] not in AXE_ACCEPTED
    ]
    assert violations == [], violations
