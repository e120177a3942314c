"""Reading files as sources: each kind into passages with their page or heading, and each
bad input refused with one clear error (nothing half-read)."""

from __future__ import annotations

import pytest

from agent.documents import read_file
from retrieval.documents import read_document
from retrieval.errors import (
    DocumentNameError,
    DocumentTooLargeError,
    UnreadableDocumentError,
    UnsupportedDocumentError,
)
from retrieval.policy import DocumentLimits
from tests.support.documents import (
    encrypted_pdf,
    make_docx,
    make_pdf,
    png_bytes,
    scanned_pdf,
    zip_bomb_docx,
)

LIMITS = DocumentLimits()
PAGES = [["Cover page."], ["Contents."], ["The refund period is 45 days."], ["Appendix."]]


def test_a_pdf_passage_carries_its_page() -> None:
    document = read_document("report.pdf", make_pdf(PAGES), LIMITS)

    assert (document.name, document.kind, document.pages) == ("report.pdf", "pdf", 4)
    refund = [p for p in document.passages if "refund" in p.text]
    assert [p.page for p in refund] == [3]


def test_a_docx_keeps_headings_and_tables() -> None:
    data = make_docx(
        [
            ("h1", "Returns"),
            ("p", "Refunds are paid within 45 days."),
            ("h2", "Fees"),
            ("table", "Item,Fee;Restocking,10%"),
        ]
    )
    document = read_document("policy.docx", data, LIMITS)

    by_heading = {p.heading: p.text for p in document.passages}
    assert by_heading["Returns"] == "Refunds are paid within 45 days."
    assert "| Restocking | 10% |" in by_heading["Returns > Fees"]
    assert all(p.page is None for p in document.passages)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.md", b"# Garden\n\n## Tomatoes\n\nPlanted on the ninth of May.\n"),
        ("notes.txt", b"Garden\n\nTomatoes\n\nPlanted on the ninth of May.\n"),
        (
            "notes.html",
            (
                b"<html><head><title>Garden</title></head><body><article><h2>Tomatoes</h2>"
                b"<p>Planted on the ninth of May, in the raised bed by the fence.</p>"
                b"<script>alert(1)</script></article></body></html>"
            ),
        ),
    ],
)
def test_text_files_are_read(name: str, data: bytes) -> None:
    document = read_document(name, data, LIMITS)

    text = "\n".join(p.text for p in document.passages)
    assert "Planted on the ninth of May" in text
    assert "alert" not in text


def test_an_image_is_read_by_ocr() -> None:
    document = read_file("sign.png", png_bytes(("STOP AHEAD", "EXIT 12")), LIMITS)

    assert document.kind == "image"
    assert "EXIT 12" in document.passages[0].text


def test_a_scanned_pdf_is_read_by_ocr_within_the_page_cap() -> None:
    data = scanned_pdf([("FIRST PAGE",), ("EXIT 12",)])

    document = read_file("scan.pdf", data, LIMITS)
    assert [(p.page, p.text) for p in document.passages] == [(1, "FIRST PAGE"), (2, "EXIT 12")]
    with pytest.raises(UnreadableDocumentError, match="no text layer.*at most 1 pages"):
        read_file("scan.pdf", data, DocumentLimits(ocr_pages=1))


def test_a_scanned_pdf_without_ocr_is_a_clear_error() -> None:
    with pytest.raises(UnreadableDocumentError, match="no text layer"):
        read_document("scan.pdf", scanned_pdf([("EXIT 12",)]), LIMITS)


@pytest.mark.parametrize(
    ("name", "data", "limits", "error", "message"),
    [
        ("big.txt", b"x" * 2000, DocumentLimits(max_bytes=1000), DocumentTooLargeError, "MB"),
        (
            "long.pdf",
            make_pdf(PAGES),
            DocumentLimits(max_pages=3),
            DocumentTooLargeError,
            "4 pages",
        ),
        ("locked.pdf", encrypted_pdf(PAGES), LIMITS, UnreadableDocumentError, "encrypted"),
        ("broken.pdf", make_pdf(PAGES)[:300], LIMITS, UnreadableDocumentError, "not a readable"),
        ("fake.pdf", b"hello, I am text", LIMITS, UnreadableDocumentError, "not a PDF"),
        ("fake.docx", b"PK\x03\x04 not a zip", LIMITS, UnreadableDocumentError, "DOCX"),
        (
            "bomb.docx",
            zip_bomb_docx(3_000_000),
            DocumentLimits(max_unpacked_bytes=1_000_000),
            DocumentTooLargeError,
            "unpacks to",
        ),
        ("empty.txt", b"", LIMITS, UnreadableDocumentError, "empty"),
        ("blank.md", b"\n\n   \n", LIMITS, UnreadableDocumentError, "no text"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n" + b"\0" * 50, LIMITS, UnreadableDocumentError, "PNG"),
        ("tool.exe", b"MZ", LIMITS, UnsupportedDocumentError, "cannot read this kind"),
        ("../../x.pdf", make_pdf(PAGES), LIMITS, DocumentNameError, "is a path"),
        ("/etc/x.pdf", make_pdf(PAGES), LIMITS, DocumentNameError, "is a path"),
        ("C:\\x.pdf", make_pdf(PAGES), LIMITS, DocumentNameError, "is a path"),
        ("x\x00.pdf", make_pdf(PAGES), LIMITS, DocumentNameError, "control characters"),
        ("", b"text", LIMITS, DocumentNameError, "empty"),
    ],
)
def test_bad_input_is_one_clear_error(
    name: str, data: bytes, limits: DocumentLimits, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        read_document(name, data, limits)


def test_an_image_without_ocr_is_unsupported() -> None:
    with pytest.raises(UnsupportedDocumentError, match="no OCR"):
        read_document("sign.png", png_bytes(("EXIT 12",)), LIMITS)
