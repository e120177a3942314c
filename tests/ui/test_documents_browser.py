"""Issue 26 in Debian's chromium: Alice drops a PDF of three pages made in the test into the
message box and asks about what page 3 says; the answer cites "report.pdf, p. 3", its
preview shows the passage, its link is her copy of the file at page 3 (a download, never a
page that runs). She makes a collection from the sidebar. Bob, logged in beside her, sees
none of it: fetching her file's link is a 404, her chat and her collection are not his.

A scripted model stands in for Megrez (it cites source 1 whenever it is given sources): what
is tested is the path of the file, not the model's reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts import Accounts
from core.settings import Settings
from runtime import Runtime
from store import open_database
from tests.support.documents import make_pdf
from tests.support.page import log_in
from tests.support.processes import ARTIFACTS
from tests.support.responder import ResponderModel
from tests.support.servers import free_port
from ui.app import ChatUI
from ui.launch import launch_chat
from wiring import search_agent

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.slow  # drives chromium

PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}
REPORT = make_pdf(
    [
        ["Annual report of the Lighthouse Company."],
        ["Staff and offices are described here."],
        ["The refund period for all orders is 45 days.", "Refunds go to the original card."],
    ]
)
ANSWER = "The refund period is 45 days [1]."


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("documents-ui")
    settings = Settings(data_dir=folder / "data", search="local:none")
    database = open_database(settings.store)
    for name, password in PASSWORDS.items():
        Accounts(database).add(name, password)
    database.close()
    model = ResponderModel(answer=ANSWER)
    agent = search_agent(settings, Runtime(model, settings))
    demo = launch_chat(ChatUI(agent, settings), "127.0.0.1", free_port(), block=False)
    try:
        yield demo.local_url
    finally:
        demo.close()
        agent.close()


def test_a_pdf_answers_with_its_page_for_its_owner_only(
    browser: Any, app_url: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(REPORT)
    alice = log_in(
        browser, app_url, "alice", PASSWORDS["alice"], search=False, accept_downloads=True
    )
    alice.locator("#question input[type=file]").set_input_files([str(report)])
    box = alice.locator("#question textarea")
    box.fill("What is the refund period for orders?")
    box.press("Enter")
    expect(alice.locator("#status")).to_contain_text("Answered", timeout=120_000)
    expect(alice.locator("#chat .file-chip")).to_contain_text("report.pdf")
    answer = alice.locator("#chat [data-testid='bot']").last
    card = answer.locator(".source-card").first
    expect(card).to_contain_text("report.pdf, p. 3")
    expect(card.locator(".source-snippet")).to_contain_text("refund period for all orders")
    cite = answer.locator("a.cite").first
    href = cite.get_attribute("href") or ""
    assert re.search(r"gradio_api/file=.*/report\.pdf#page=3$", href), href
    cite.hover()
    expect(alice.locator("#cite-preview")).to_contain_text("report.pdf, p. 3")
    expect(alice.locator("#cite-preview")).to_contain_text("45 days")
    ARTIFACTS.mkdir(exist_ok=True)
    alice.screenshot(path=str(ARTIFACTS / "ui-documents.png"), full_page=True)

    # Her link: the file itself, as a download that cannot run in the app's origin.
    link = app_url.rstrip("/") + "/" + href.split("#")[0].lstrip("/")
    mine = alice.request.get(link)
    assert mine.status == 200 and mine.body() == REPORT
    assert mine.headers["content-disposition"].startswith("attachment")
    assert mine.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in mine.headers["content-security-policy"]

    # A collection from the sidebar.
    alice.locator("#collections").get_by_text("Collections").click()
    alice.locator("#collection-name input").fill("handbook")
    alice.locator("#collection-upload input[type=file]").set_input_files([str(report)])
    alice.locator("#collection-add").click()
    expect(alice.locator("#collection-status")).to_contain_text("Added report.pdf to handbook")
    expect(alice.locator("#collection-use")).to_contain_text("handbook")

    # Bob: not her file, not her chat, not her collection.
    bob = log_in(browser, app_url, "bob", PASSWORDS["bob"], search=False, accept_downloads=True)
    assert bob.request.get(link).status == 404
    expect(bob.locator("#chat")).not_to_contain_text("refund")
    bob.locator("#collections").get_by_text("Collections").click()
    expect(bob.locator("#collection-status")).to_have_text("")
    choices = bob.locator("#collection-use input[type=checkbox]")
    expect(choices).to_have_count(0)
    alice.context.close()
    bob.context.close()
