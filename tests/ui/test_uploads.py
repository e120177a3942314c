"""Uploads on arrival: images kept only as re-encoded pixels, anything else refused and
deleted, messages that name no server path; the copies a user may see live in their own
folder. (In a browser, against another account: test_isolation_browser.py.)"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from core.settings import Settings
from ui.attachments import keep_attachments, uploads_dir
from ui.conversation import messages_from_turns, notice
from ui.guard import SessionOwners
from ui.owned import owned_messages, owner_key, owner_key_of, served_copy

SCRIPT = b"<script>parent.pwned = 1</script>"


@pytest.fixture
def gradio_uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Gradio's upload folder, where the message box's files arrive."""
    folder = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    (folder / "0123abcd").mkdir(parents=True)
    return folder / "0123abcd"


def png_bytes(size: tuple[int, int] = (32, 24), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, fmt)
    return buffer.getvalue()


def test_an_svg_or_html_upload_is_refused_deleted_and_named_without_its_path(
    tmp_path: Path, gradio_uploads: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    svg = gradio_uploads / "evil.svg"
    svg.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg">' + SCRIPT + b"</svg>")
    html = gradio_uploads / "page.png"
    html.write_bytes(b"<html>" + SCRIPT + b"</html>")
    kept = keep_attachments([{"path": str(svg)}, {"path": str(html)}], settings, "bob")
    assert kept.image is None and kept.audio is None
    assert [p.split(":")[0] for p in kept.problems] == [
        "cannot use evil.svg",
        "cannot use page.png",
    ]
    assert not any(str(tmp_path) in problem for problem in kept.problems)
    assert not svg.exists() and not html.exists()  # refused uploads are deleted
    assert not any(uploads_dir(settings).rglob("*.*"))  # and nothing of them was kept


def test_an_image_is_kept_as_its_pixels_only(tmp_path: Path, gradio_uploads: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    polyglot = gradio_uploads / "photo.png"
    polyglot.write_bytes(png_bytes() + SCRIPT)
    photo = gradio_uploads / "holiday.jpeg"
    photo.write_bytes(png_bytes((40, 30), "JPEG"))
    kept = keep_attachments([{"path": str(polyglot)}], settings, "bob")
    assert kept.image is not None and kept.image.suffix == ".png" and not kept.problems
    assert kept.image.parent == uploads_dir(settings, "bob")
    assert b"<script" not in kept.image.read_bytes()
    assert Image.open(kept.image).size == (32, 24)
    assert not polyglot.exists()  # Gradio's copy goes once ours is kept
    jpeg = keep_attachments([{"path": str(photo)}], settings, "bob").image
    assert jpeg is not None and Image.open(jpeg).format == "JPEG"


def test_a_file_of_the_caller_is_not_deleted(tmp_path: Path, gradio_uploads: Path) -> None:
    mine = tmp_path / "notes.svg"
    mine.write_bytes(b"<svg/>")
    kept = keep_attachments([mine], Settings(data_dir=tmp_path / "data"), "bob")
    assert kept.problems and mine.exists()


def test_errors_in_the_chat_name_files_not_server_paths() -> None:
    error = "could not read audio file /srv/megrez/data/uploads/alice/3f2a.webm: bad header"
    assert notice(error)["content"] == "⚠ could not read audio file 3f2a.webm: bad header"
    failure = "Search failed (ddg: HTTP 403 for https://html.duckduckgo.com/html/x)"
    assert "https://html.duckduckgo.com/html/x" in notice(failure)["content"]
    recorded = [
        {"role": "user", "content": "What is it?"},
        {"role": "assistant", "content": "", "error": f"image file {Path('/var/x/a.png')} gone"},
    ]
    assert "/var/x" not in str(messages_from_turns(recorded))


def test_a_user_sees_attachments_through_copies_in_a_folder_of_their_own(
    tmp_path: Path, gradio_uploads: Path
) -> None:
    source = tmp_path / "data" / "uploads" / "bob" / "abc.png"
    source.parent.mkdir(parents=True)
    source.write_bytes(png_bytes())
    shown = owned_messages([{"role": "user", "content": {"path": str(source)}}], "bob")
    copy = Path(shown[0]["content"]["path"])
    assert copy.read_bytes() == source.read_bytes()
    assert owner_key_of(copy) == owner_key("bob") != owner_key("alice")
    assert served_copy(source, "bob") == str(copy)  # made once
    assert owner_key_of(source) is None  # the data dir is nobody's to be served
    source.unlink()
    gone = tmp_path / "data" / "uploads" / "bob" / "gone.png"
    assert owned_messages([{"role": "user", "content": {"path": str(gone)}}], "bob") == []


def test_a_session_belongs_to_the_first_user_who_uses_it() -> None:
    owners = SessionOwners(capacity=2)
    assert owners.claim("s1", "alice") and owners.claim("s1", "alice")
    assert not owners.claim("s1", "bob") and not owners.claim("s1", None)
    assert owners.claim("s2", None) and not owners.claim("s2", "alice")
    owners.claim("s3", "carol")  # the oldest, s1, is forgotten
    assert owners.claim("s1", "bob")


def test_documents_are_read_whole_and_gradio_copies_go(
    tmp_path: Path, gradio_uploads: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", max_upload_mb=0.001)  # 1000 bytes
    notes = gradio_uploads / "Meeting notes.md"
    notes.write_bytes(b"# Notes\n\nThe code word is teal.")
    page = gradio_uploads / "page.html"
    page.write_bytes(b"<html>" + SCRIPT + b"</html>")
    big = gradio_uploads / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * 2000)
    program = gradio_uploads / "setup.exe"
    program.write_bytes(b"MZ")
    kept = keep_attachments(
        [{"path": str(p)} for p in (notes, page, big, program)], settings, "bob"
    )
    assert [(d.name, d.data) for d in kept.documents] == [
        ("Meeting notes.md", b"# Notes\n\nThe code word is teal."),
        ("page.html", b"<html>" + SCRIPT + b"</html>"),
    ]
    assert kept.problems == (
        "cannot use big.pdf: it is larger than 0.001 MB (MEGREZ_MAX_UPLOAD_MB)",
        (
            "cannot use setup.exe: attach a document (PDF, DOCX, Markdown, text, HTML), "
            "an image or a voice recording"
        ),
    )
    assert not any(p.exists() for p in (notes, page, big, program))  # Gradio's copies go
    assert not uploads_dir(settings).exists()  # documents go to the store, not the data dir
