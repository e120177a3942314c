"""Documents in the chat UI without a browser (issue 26): a file dropped in the message box
is read once and indexed for that chat, shown as a chip; a bad file is one message and
leaves nothing; a file source's card and citation link to its owner's copy at its page, and
to nothing for anyone else; collections are made, filled, emptied and attached to a chat
from the sidebar's handlers, each user's own. (In chromium: test_documents_browser.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from core.settings import Settings
from runtime import Runtime
from store import LOCAL_USER
from tests.support.documents import encrypted_pdf, make_pdf, zip_bomb_docx
from tests.support.scripted import ScriptedModel
from ui.app import ChatUI
from ui.attachments import NamedFile
from ui.owned import owner_key, owner_key_of
from ui.render import render_reply
from wiring import search_agent

REPORT = make_pdf(
    [
        ["Annual report of the Lighthouse Company."],
        ["Staff and offices are described here."],
        ["The refund period for all orders is 45 days."],
    ]
)


@pytest.fixture
def ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatUI]:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    settings = Settings(data_dir=tmp_path / "data", search="local:none")
    model = ScriptedModel(["The refund period is 45 days."] * 10, dialect="generic")
    agent = search_agent(settings, Runtime(model, settings))
    yield ChatUI(agent, settings)
    agent.close()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def ask(ui: ChatUI, text: str, files: list[Path], thread: str | None = None) -> Any:
    *_, last = ui.respond({"text": text, "files": [str(f) for f in files]}, thread, False, "")
    return last


def contents(chat: list[dict[str, Any]]) -> str:
    return "\n".join(str(m["content"]) for m in chat)


def test_a_dropped_pdf_is_indexed_for_its_chat_and_shown_as_a_chip_after_reloads_too(
    ui: ChatUI, tmp_path: Path
) -> None:
    report = write(tmp_path, "report.pdf", REPORT)
    last = ask(ui, "What is the refund period?", [report])
    assert last.status.startswith("✓")
    assert '<span class="file-chip">report.pdf</span>' in contents(last.chat)
    kept = ui.agent.store.documents.list(LOCAL_USER, chat_id=last.thread)
    assert [(info.name, info.pages) for info in kept] == [("report.pdf", 3)]
    # The chip is recorded with the question: a reload shows it again.
    reopened = contents(ui.open_thread(last.thread, LOCAL_USER))
    assert reopened.count('<span class="file-chip">report.pdf</span>') == 1
    # Another chat does not have it.
    other = ask(ui, "And here?", [])
    assert ui.agent.store.documents.list(LOCAL_USER, chat_id=other.thread) == []


def test_a_document_alone_is_indexed_and_awaits_a_question(ui: ChatUI, tmp_path: Path) -> None:
    last = ask(ui, "", [write(tmp_path, "notes.md", b"# Notes\n\nThe code word is teal.")])
    assert "notes.md: ready" in contents(last.chat) and not last.status.startswith("⚠")
    assert [i.name for i in ui.agent.store.documents.list(LOCAL_USER, chat_id=last.thread)] == [
        "notes.md"
    ]


def test_bad_documents_are_one_message_each_and_nothing_is_kept(ui: ChatUI, tmp_path: Path) -> None:
    bad = [
        write(tmp_path, "broken.pdf", b"%PDF-1.4\nnot really a pdf"),
        write(tmp_path, "locked.pdf", encrypted_pdf([["a secret"]])),
        write(tmp_path, "bomb.docx", zip_bomb_docx(200_000_000)),
        write(tmp_path, "empty.txt", b""),
    ]
    last = ask(ui, "What do these say?", bad)
    text = contents(last.chat)
    for path in bad:
        assert text.count(f"cannot use {path.name}:") == 1, text
    assert str(tmp_path) not in text  # names, never server paths
    assert last.status.startswith("⚠")
    assert ui.agent.store.documents.list(LOCAL_USER) == []


def test_a_file_source_links_to_its_owners_copy_at_its_page(ui: ChatUI) -> None:
    indexed = ui.documents.attach("bob", [NamedFile("report.pdf", REPORT)], chat_id="c1")
    assert indexed.names == ["report.pdf"] and not indexed.problems
    (info,) = ui.agent.store.documents.list("bob")
    source = {
        "n": 1,
        "url": f"doc:{info.doc_id}#page=3",
        "title": "report.pdf, p. 3",
        "snippet": "The refund period for all orders is 45 days.",
    }
    answer = "Refunds are accepted for 45 days [1]."

    (shown,) = ui.documents.shown_sources([source], "bob")
    link, page = str(shown["url"]).split("#")
    assert link.startswith("gradio_api/file=") and page == "page=3"
    copy = Path(link.removeprefix("gradio_api/file="))
    assert copy.name == "report.pdf" and copy.read_bytes() == REPORT
    assert owner_key_of(copy) == owner_key("bob")
    html = render_reply(answer, [shown])
    assert html.count(f'href="{link}#page=3"') == 2  # the citation and the card
    assert "report.pdf, p. 3" in html and "45 days" in html

    # Alice gets no copy and no link, only the text.
    (theirs,) = ui.documents.shown_sources([source], "alice")
    assert theirs["url"] == ""
    html = render_reply(answer, [theirs])
    assert "gradio_api" not in html and 'class="cite"' not in html


def test_collections_are_made_filled_attached_and_private(ui: ChatUI, tmp_path: Path) -> None:
    panel = ui.collections
    bob = gr.Request(username="bob")
    report = write(tmp_path, "report.pdf", REPORT)
    broken = write(tmp_path, "broken.pdf", b"%PDF-1.4 no")
    names, files, _, status, _ = panel.on_add("handbook", [str(report), str(broken)], None, bob)
    assert names["choices"] == ["handbook"] and names["value"] == "handbook"
    assert [name for name, _ in files["choices"]] == ["report.pdf"]
    assert "Added report.pdf to handbook" in status and "cannot use broken.pdf" in status
    *_, status, _ = panel.on_add("a/b", [], None, bob)
    assert status.startswith("⚠ invalid collection name")

    # Picked before the chat's first question, the collection goes with that question.
    assert panel.on_use(["handbook"], None, bob) == "This chat searches handbook."
    *_, last = ui.respond({"text": "What is the refund period?"}, None, False, "", request=bob)
    assert panel.of_chat("bob", last.thread) == ["handbook"]
    assert panel.on_show("handbook", last.thread, bob)[2]["value"] == ["handbook"]
    assert panel.on_show(None, None, bob)[2]["value"] == []  # a new chat starts with none

    # Alice sees none of it, and cannot remove Bob's file by its id.
    alice = gr.Request(username="alice")
    assert panel.on_show("handbook", last.thread, alice)[0]["choices"] == []
    doc_id = files["choices"][0][1]
    assert panel.on_remove("handbook", doc_id, None, alice)[3].startswith("⚠")
    assert [i.name for i in ui.agent.store.documents.list("bob")] == ["report.pdf"]
    _, files, _, status = panel.on_remove("handbook", doc_id, None, bob)
    assert status == "File removed." and files["choices"] == []


def test_collections_of_an_older_ui_sqlite_are_imported_once(ui: ChatUI) -> None:
    """Earlier versions kept a chat's collections in data_dir/ui.sqlite; the first start of
    this one copies them into the conversation store (only the owner's, as ever) and retires
    the file, so the next start keeps them."""
    import sqlite3

    ui.agent.store.documents.create_collection("bob", "handbook")
    ui.agent.store.documents.create_collection("alice", "diary")
    old = sqlite3.connect(ui.settings.store.data_dir / "ui.sqlite")
    old.execute("CREATE TABLE IF NOT EXISTS chat_collections (thread_id TEXT, name TEXT)")
    rows = [("bob:t1", "handbook"), ("bob:t1", "diary"), ("alice:t2", "diary")]
    old.executemany("INSERT INTO chat_collections VALUES (?, ?)", rows)
    old.commit()
    old.close()

    restarted = ChatUI(ui.agent, ui.settings)
    assert restarted.collections.of_chat("bob", "t1") == ["handbook"]
    assert restarted.collections.of_chat("alice", "t2") == ["diary"]
    assert not (ui.settings.store.data_dir / "ui.sqlite").exists()
    again = ChatUI(ui.agent, ui.settings)
    assert again.collections.of_chat("bob", "t1") == ["handbook"]
