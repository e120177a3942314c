"""Issue 20 item 2 in Debian's chromium: a hostile page whose text carries every payload of
`tests/support/payloads.py` (and a model that repeats them, as one quoting the page would)
loads nothing from another host: not in the chat, the progress steps, the citation
preview, the source cards, nor in "Copy answer" and the export once a Markdown viewer
renders them. A loopback listener stands where the payloads point and must get no request;
the page's own request log must show none either. The Content-Security-Policy is checked
on its own: an image put straight into the page's DOM is refused too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import markdown_it
import pytest

from core.settings import Settings
from runtime import Runtime
from tests.support.browser import clipboard_text
from tests.support.docs_index import run_cli
from tests.support.payloads import hostile_markdown
from tests.support.processes import ARTIFACTS
from tests.support.responder import ResponderModel
from tests.support.servers import free_port, record_requests, serve_directory
from ui.app import ChatUI
from ui.launch import launch_chat
from wiring import search_agent

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow  # builds an index, drives chromium

QUESTION = "What does the payload page say about lru_cache?"
# Records every Content-Security-Policy violation the page reports.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


class Hostile:
    def __init__(self, url: str, evil: str, seen: list[str], source: str) -> None:
        self.url, self.evil, self.seen, self.source = url, evil, seen, source


def page_html(payloads: dict[str, str], evil: str) -> str:
    """The payloads as the page's text (escaped in its HTML, so its text is the payload)."""
    body = "".join(
        f"<pre>{html.escape(text)}</pre>" if "\n" in text else f"<p>{html.escape(text)}</p>"
        for text in payloads.values()
    )
    title = html.escape(f"lru_cache payloads ![t]({evil}/title.png) <img src={evil}/t.png>")
    return (
        f"<html><head><title>{title}</title></head><body><main><h1>lru_cache payloads</h1>"
        f"<p>The lru_cache maxsize is 128 by default, says the payload page.</p>{body}"
        "</main></body></html>"
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    root = tmp_path_factory.mktemp("payload-site")
    data = tmp_path_factory.mktemp("payload-data")
    with record_requests() as (evil, seen), serve_directory(root) as base:
        source = f"{base}/hostile/page.html"
        payloads = hostile_markdown(evil + "/leak.png?secret", source)
        (root / "hostile").mkdir()
        (root / "hostile/index.html").write_text('<a href="page.html">page</a>', encoding="utf-8")
        (root / "hostile/page.html").write_text(page_html(payloads, evil), encoding="utf-8")
        built = run_cli(
            "index", f"{base}/hostile/", "--name", "hostile", "--no-progress", data_dir=data
        )
        assert built.returncode == 0, built.stderr
        settings = Settings(
            data_dir=data,
            allow_hosts="127.0.0.1,localhost",
            search="local:hostile",
            decide_bias=1.0,
            grounding="off",  # every payload reaches the answer: this tests the rendering
        )
        answer = "\n\n".join([*payloads.values(), "The lru_cache maxsize is 128 [1]."])
        model = ResponderModel(answer=answer)
        agent = search_agent(settings, Runtime(model, settings))
        demo = launch_chat(ChatUI(agent, settings), "127.0.0.1", free_port(), block=False)
        try:
            yield Hostile(demo.local_url, evil, seen, source)
        finally:
            demo.close()
            agent.close()


def viewer_html(markdown: str) -> str:
    """A Markdown viewer at its most permissive: raw HTML on, any link scheme accepted."""
    md = markdown_it.MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md.render(markdown)


def test_payloads_load_nothing_remote_anywhere(browser: Any, hostile: Hostile) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hostile.url.rstrip("/"))
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(60_000)
    response = page.goto(hostile.url)
    assert response is not None
    policy = response.headers.get("content-security-policy", "")

    box = page.locator("#question textarea")
    box.fill(QUESTION)
    box.press("Enter")
    expect(page.locator("#status")).to_contain_text(re.compile("Answered"), timeout=120_000)
    answer = page.locator("#chat [data-testid='bot']").last
    expect(answer).to_contain_text("leak.png?secret")  # the payloads arrived, as text
    expect(answer.locator(".source-card").first).to_contain_text("lru_cache payloads")
    expect(answer.locator(".source-snippet").first).to_contain_text("leak.png")
    page.locator("#chat .thought-group .title").first.click()  # the steps, with page links
    expect(page.locator("#chat .thought-group a").first).to_be_visible()
    answer.locator("a.cite").first.hover()
    expect(page.locator("#cite-preview")).to_contain_text("lru_cache payloads")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-remote-payloads.png"), full_page=True)
    page.wait_for_function("() => [...document.images].every((image) => image.complete)")
    assert [url for url in requested if url.startswith(hostile.evil)] == []
    assert hostile.seen == []
    links = page.evaluate(
        "() => [...document.querySelectorAll('#chat a, #cite-preview a')].map(a => a.href)"
    )
    # Chips, cards and the preview link the source; the steps link the pages read.
    site = hostile.source.rsplit("/", 1)[0] + "/"
    assert links and all(link.startswith(site) for link in links), links
    cites = page.evaluate("() => [...document.querySelectorAll('#chat a.cite')].map(a => a.href)")
    # Each chip links the source page, at most with a text fragment (the supporting span).
    assert cites and {cite.split("#:~:text=")[0] for cite in cites} == {hostile.source}
    images = page.evaluate("() => [...document.querySelectorAll('#chat img')].map(i => i.src)")
    assert all(not src.startswith(hostile.evil) for src in images), images

    page.locator("#copy-answer").click()
    copied = clipboard_text(page, "Sources")
    with page.expect_download() as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "leak.png" in copied and "leak.png" in exported
    csp_reports = page.evaluate("() => window.__csp")
    assert csp_reports == [], csp_reports  # the app itself needs nothing the policy refuses

    # Copy and export as a Markdown viewer shows them: every image has settled (loaded or not).
    viewer = context.new_page()
    for markdown in (copied, exported):
        viewer.set_content(viewer_html(markdown), wait_until="load")
        assert viewer.locator("img").count() == 0
    assert [url for url in requested if url.startswith(hostile.evil)] == []
    assert hostile.seen == []

    # The policy alone: an image written straight into the page is refused, and reported.
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part)
    assert directives.get("img-src") == "'self' data:", policy
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    page.evaluate(
        """(src) => new Promise((done) => {
            const img = document.createElement('img');
            img.onerror = img.onload = done;
            img.src = src;
            document.querySelector('#chat').appendChild(img);
        })""",
        hostile.evil + "/planted.png",
    )
    page.wait_for_function("() => window.__csp.some((r) => r.includes('planted.png'))")
    assert hostile.seen == []
    context.close()
