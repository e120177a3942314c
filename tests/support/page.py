"""The chat page as the browser tests drive it (Playwright): two viewports, opening the
page, asking, waiting for how a turn ended, and screenshots into test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.processes import ARTIFACTS, REPO

AXE = REPO / "tests/ui/js/node_modules/axe-core/axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
#: How a turn ended, on the line under the chat (empty while the turn runs).
ENDED = re.compile("Answered|Stopped")


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def tag(viewport: dict[str, int]) -> str:
    """The viewport's name in screenshot file names."""
    return "desktop" if viewport is DESKTOP else "phone"


def open_page(
    browser: Any,
    url: str,
    viewport: dict[str, int],
    *,
    clipboard: bool = False,
    timeout_ms: int = 30_000,
    **context_options: Any,
) -> Any:
    """A new browser context (touch on a phone) with the chat page loaded at `url`; its
    alerts are dismissed and listed in `page.dialogs`."""
    context = browser.new_context(viewport=viewport, has_touch=viewport is PHONE, **context_options)
    if clipboard:
        origin = re.match(r"https?://[^/]+", url)
        assert origin, url
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin[0])
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.dialogs = []  # the alerts the page raised (none is expected): dismissed, kept here
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    expect(page.locator("#question textarea")).to_be_visible()
    return page


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def send(page: Any, text: str) -> None:
    """Type `text` and send it; returns once the question shows in the chat."""
    users = page.locator("#chat [data-testid='user']")
    before = users.count()
    box = page.locator("#question textarea")
    box.fill(text)
    box.press("Enter")
    expect(users).not_to_have_count(before)


def finished(page: Any, timeout_ms: int = 60_000) -> None:
    """Wait until the line under the chat says how the turn ended."""
    expect(page.locator("#status")).to_contain_text(ENDED, timeout=timeout_ms)


def ask(page: Any, text: str, timeout_ms: int = 60_000) -> None:
    """Send `text` and wait until its turn has ended."""
    send(page, text)
    finished(page, timeout_ms)


def last_answer(page: Any) -> Any:
    return page.locator("#chat [data-testid='bot']").last


def log_in(
    browser: Any, url: str, name: str, password: str, *, search: bool = True, **options: Any
) -> Any:
    """A new browser context (desktop) signed in at `url`'s login form as `name`; with
    `search=False` it waits for the chat page and switches web search off. A refused login
    stays on the form."""
    page = browser.new_context(viewport=DESKTOP, **options).new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator("input[type=text]").first.fill(name)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Login").click()
    if not search:
        expect(page.locator("#question textarea")).to_be_visible()
        page.locator("#search-toggle input").uncheck()
    return page


#: Resolves once the page's layout has not moved for `frames` animation frames in a row (a
#: sidebar sliding open moves everything beside it for a few hundred milliseconds).
_LAYOUT_SETTLED = """async (frames) => {
  const layout = () => JSON.stringify([...document.querySelectorAll("body *")].slice(0, 400)
    .map((node) => { const r = node.getBoundingClientRect(); return [r.x, r.y, r.width]; }));
  let last = layout(), still = 0;
  while (still < frames) {
    await new Promise((next) => requestAnimationFrame(next));
    const now = layout();
    still = now === last ? still + 1 : 0;
    last = now;
  }
}"""


def layout_settled(page: Any, frames: int = 10) -> None:
    """Wait until nothing on the page moves (transitions ended), frame by frame."""
    page.evaluate(_LAYOUT_SETTLED, frames)
