"""The browser UI in Debian's chromium, driven by Playwright (no browser download).

`megrez-search ui` runs as a real process with the embedded model over the Python docs
served on loopback (`local:docs`). One flow walks the issue's list: a searched, cited,
streamed answer; search off; an image question; a voice question; reload and restart. A
second one checks that a hostile page's title and text show as text. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from core.settings import Settings
from tests.support.docs_index import run_cli
from tests.support.page import shot
from tests.support.processes import megrez_process
from tests.support.servers import free_port, serve_directory
from tests.support.sidebar import listed_as_open, open_chat

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow

ANSWER_TIMEOUT_MS = 300_000  # the embedded model on a busy two-core machine
QUESTION = "What is the default maxsize of functools.lru_cache?"
IMAGE_WORDS = "MEGREZ 2026"
SPOKEN = "What is the capital of France?"

# Records every length the newest answer message (not a step) has had, to see it stream.
WATCH_ANSWER = """() => {
  window.__answerLengths = [];
  const chat = document.querySelector('#chat');
  new MutationObserver(() => {
    const answers = [...chat.querySelectorAll("[data-testid='bot']")]
      .filter(message => !message.querySelector('.thought-group'));
    const last = answers[answers.length - 1];
    if (last) window.__answerLengths.push(last.textContent.length);
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def open_tab(context, dialogs: list[str]):  # type: ignore[no-untyped-def]
    """A new tab of `context` (its storage: the browser's thread id); alerts go to `dialogs`."""
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    return page


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield open_tab(context, [])
    context.close()


@pytest.fixture(scope="module")
def sign_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = Image.new("RGB", (720, 200), "white")
    ImageDraw.Draw(image).text(
        (40, 60), IMAGE_WORDS, font=ImageFont.load_default(size=80), fill="black"
    )
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
    # The line stays empty while the turn runs (the live step is in the answer's progress
    # block) and says how the turn ended.
    expect(status).to_contain_text("Answered", timeout=ANSWER_TIMEOUT_MS)


# Per answer message: each [N] chip's link and the link of that message's source card N.
CHIP_AND_CARD_LINKS = """() => [...document.querySelectorAll("#chat [data-testid='bot']")]
  .flatMap(message => {
    const cards = new Map([...message.querySelectorAll('.source-card')].map(card => [
      card.querySelector('.source-n').textContent,
      card.querySelector('a.source-title')?.href ?? null,
    ]));
    return [...message.querySelectorAll('a.cite')].map(chip => ({
      chip: chip.textContent,
      href: chip.href,
      card: cards.get(chip.textContent.replace(/[\\[\\]]/g, '')) ?? null,
    }));
  })"""


def expect_citations_link_their_sources(page) -> None:  # type: ignore[no-untyped-def]
    """The answer shows [N] chips, and each one links to the page of source card N shown
    with it (which source the tiny model cites is its choice, not the app's)."""
    chips = page.locator("#chat a.cite", has_text=re.compile(r"^\[\d+\]$"))
    expect(chips.first).to_be_visible()  # a [N] citation chip, not only the sources list
    links = page.evaluate(CHIP_AND_CARD_LINKS)
    assert links and all(link["href"] and link["href"] == link["card"] for link in links), links


def search_steps(page):  # type: ignore[no-untyped-def]
    """The collapsed progress block of each turn that searched ("Searched 1 query · …")."""
    return page.locator("#chat .thought-group .title", has_text=re.compile(r"Searched \d+ quer"))


def functools_cards(page):  # type: ignore[no-untyped-def]
    return page.locator("#chat .source-card a.source-title[href$='/library/functools.html']")


def test_chat_flow_steps_citations_search_off_image_voice_reload_restart(
    ui_settings: Settings, tmp_path: Path, page, sign_png: Path, spoken_wav: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "ui.log"
    with megrez_process(["ui"], ui_settings, "/", log_path, port=port) as base:
        page.goto(base)
        expect(page.locator("#question textarea")).to_be_visible()
        page.evaluate(WATCH_ANSWER)

        # 1. A docs question with search on: steps, streamed answer citing its sources, the
        # functools page among them.
        ask(page, QUESTION)
        shot(page, "ui-1-search-answer.png")
        expect(search_steps(page)).to_have_count(1)
        expect(search_steps(page)).to_contain_text(re.compile(r"read [1-9]\d* pages?"))
        expect(functools_cards(page).first).to_be_visible()  # the functools page is a source
        expect_citations_link_their_sources(page)
        lengths = page.evaluate("window.__answerLengths")
        assert len(set(lengths)) >= 3, lengths  # the answer grew in several updates

        # 2. Search off: an answer without any search step.
        page.get_by_label("Web search").uncheck()
        ask(page, "Tell me a fun fact about Python.")
        shot(page, "ui-2-search-off.png")
        expect(search_steps(page)).to_have_count(1)  # still only the first turn's

        # 3. A new chat; an image with text: the text read from it comes back in the answer.
        page.locator("#new-chat").click()
        expect(page.locator("#chat [data-testid='user']")).to_have_count(0)
        ask(page, "What text is written in this image?", files=[sign_png])
        shot(page, "ui-3-image.png")
        expect(
            page.locator("#chat [data-testid='user']", has_text="Text in the image")
        ).to_contain_text("MEGREZ")
        expect(page.locator("#chat [data-testid='bot']").last).to_contain_text("2026")

        # 4. A spoken question: its transcript comes into the message box, and is asked
        # as the user sends it.
        page.locator("#question input[type=file]").set_input_files([str(spoken_wav)])
        page.locator("#question textarea").press("Enter")
        box = page.locator("#question textarea")
        expect(box).to_have_value(re.compile(r"capital \w+ France"), timeout=ANSWER_TIMEOUT_MS)
        ask(page, box.input_value())
        shot(page, "ui-4-voice.png")
        question = page.locator("#chat [data-testid='user']").last
        expect(question).to_contain_text(re.compile(r"capital \w+ France"))

        # 5. Reload: the same conversation comes back from the server; the first chat is listed.
        page.reload()
        expect(page.locator("#chat")).to_contain_text("What text is written in this image?")
        expect(page.locator("#chat")).to_contain_text(re.compile(r"capital \w+ France"))
        shot(page, "ui-5-reloaded.png")
        expect(page.get_by_label("Web search")).not_to_be_checked()  # the toggle is kept too

    # 6. Restart the app on the same address and open it in a new tab (the old one reloads
    # itself once Gradio reconnects, which would race a reload from here): the browser's
    # thread id still opens the chat, and the first chat reopens from the past-chats list
    # with its citation links.
    context, dialogs = page.context, page.dialogs  # type: ignore[attr-defined]
    page.close()
    with megrez_process(["ui"], ui_settings, "/", log_path, port=port) as base:
        page = open_tab(context, dialogs)
        page.goto(base)
        expect(page.locator("#chat")).to_contain_text(re.compile(r"capital \w+ France"))
        listed_as_open(page, "What text is written in this image?")
        open_chat(page, QUESTION)
        expect(page.locator("#chat")).to_contain_text(QUESTION)
        expect(functools_cards(page).first).to_be_visible()
        expect_citations_link_their_sources(page)
        expect(search_steps(page)).to_have_count(1)
        shot(page, "ui-6-restarted-past-chat.png")
    assert page.dialogs == []  # type: ignore[attr-defined]


HOSTILE_TITLE = (
    '<script>window.__pwned = 1; alert("title")</script> functools lru_cache maxsize '
    '<img src=x onerror=alert("img")>'
)
HOSTILE_TITLE_HTML = HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;")
HOSTILE_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{HOSTILE_TITLE_HTML}</title>
<script>alert("a real script tag in the page")</script></head>
<body><main><h1>functools.lru_cache maxsize</h1>
<p>The functools.lru_cache decorator keeps a cache of recent calls. Its maxsize argument
defaults to 128 entries; maxsize=None makes the cache unbounded.
&lt;script&gt;window.__pwned = 2; alert("text")&lt;/script&gt;
&lt;img src=x onerror=alert("text img")&gt;</p>
<p>Use cache_info() to see the hits and misses of the lru_cache of a function.</p>
</main></body></html>
"""


@pytest.fixture(scope="module")
def hostile_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A `local:hostile` index of one page whose title and text carry script and img tags."""
    site = tmp_path_factory.mktemp("hostile-site")
    (site / "index.html").write_text('<a href="lru_cache.html">lru_cache</a>', encoding="utf-8")
    (site / "lru_cache.html").write_text(HOSTILE_PAGE, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hostile-data"),
        allow_hosts="127.0.0.1,localhost",
        search="local:hostile",
        model="embedded:tiny",
    )
    with serve_directory(site) as base_url:
        # The real CLI in its own process (Playwright's event loop runs in this thread).
        built = run_cli(
            "index",
            base_url + "/",
            "--name",
            "hostile",
            "--no-progress",
            data_dir=settings.store.data_dir,
        )
        assert built.returncode == 0, built.stderr
        yield settings


def test_hostile_page_title_and_text_show_as_text(
    hostile_settings: Settings, tmp_path: Path, page
) -> None:
    with megrez_process(["ui"], hostile_settings, "/", tmp_path / "ui.log") as base:
        page.goto(base)
        expect(page.locator("#question textarea")).to_be_visible()
        ask(page, QUESTION)
        chat = page.locator("#chat")
        expect(chat.locator("a[href$='/lru_cache.html']").first).to_be_visible()  # it was cited
        expect(chat).to_contain_text('<script>window.__pwned = 1; alert("title")</script>')
        expect(chat).to_contain_text('onerror=alert("img")')
        # The source card shows the hostile title as text too.
        expect(chat.locator(".source-card").first).to_contain_text("<script>window.__pwned = 1")
        shot(page, "ui-7-hostile-page.png")
        injected = page.evaluate(
            """() => ({
                scripts: document.querySelectorAll('#chat script').length,
                handlers: document.querySelectorAll(
                    '#chat [onerror], #chat [onload], #chat [onclick]'
                ).length,
                images: document.querySelectorAll('#chat img').length,
                pwned: window.__pwned ?? null,
            })"""
        )
    assert injected == {"scripts": 0, "handlers": 0, "images": 0, "pwned": None}
    assert page.dialogs == []  # type: ignore[attr-defined]


DEEP_QUESTION = (
    "Python 3.9 added a new standard-library module for topologically sorting a graph. "
    "Which exception does it raise when the graph contains a cycle?"
)


def test_deep_mode_shows_progress_and_answers_with_sources(
    ui_settings: Settings, tmp_path: Path, page
) -> None:
    with megrez_process(["ui"], ui_settings, "/", tmp_path / "ui.log") as base:
        page.goto(base)
        expect(page.locator("#question textarea")).to_be_visible()
        page.get_by_label("Deep research").check()
        ask(page, DEEP_QUESTION)
        shot(page, "ui-deep-research.png")
        # One collapsed progress block per turn; it opens to the research lines
        # (sub-questions, each one's searches and pages).
        block = search_steps(page)
        expect(block).to_have_count(1)
        block.click()
        expect(page.locator("#chat")).to_contain_text("Sub-question (round 1)")
        shot(page, "ui-deep-research-steps.png")
        answer = page.locator("#chat [data-testid='bot']").last
        expect(answer).to_contain_text("CycleError")
        for gold in ("whatsnew/3.9.html", "library/graphlib.html"):
            expect(page.locator(f"#chat a[href$='/{gold}']").first).to_be_attached()
    assert page.dialogs == []  # type: ignore[attr-defined]
