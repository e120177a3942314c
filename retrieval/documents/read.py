"""`read_document`: a file's bytes to a `Document` of passages, or one clear `DocumentError`.

The kind comes from the name's extension and must match the bytes (a '.pdf' that is not a
PDF is refused, not guessed at). Passages are split as web pages are (retrieval/passages.py),
a PDF page by page so that each passage has its page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import PurePosixPath

from core.errors import MegrezSearchError
from retrieval.clean import clean_html, decode_text, sniff_binary
from retrieval.documents.docx import docx_markdown
from retrieval.documents.names import checked_name
from retrieval.documents.pdf import pdf_pages
from retrieval.documents.types import Document, DocumentPassage
from retrieval.errors import (
    DocumentTooLargeError,
    UnreadableDocumentError,
    UnsupportedDocumentError,
)
from retrieval.passages import split_passages
from retrieval.policy import DocumentLimits
from retrieval.types import Page

log = logging.getLogger(__name__)

#: The text on an image (its bytes), e.g. the runtime's OCR; raises `MegrezSearchError`.
OcrReader = Callable[[bytes], str]

KINDS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".webp": "image",
    ".gif": "image",
    ".bmp": "image",
    ".tif": "image",
    ".tiff": "image",
}


def document_kind(name: str) -> str:
    kind = KINDS.get(PurePosixPath(name).suffix.lower())
    if kind is None:
        known = ", ".join(sorted({suffix.lstrip(".") for suffix in KINDS}))
        raise UnsupportedDocumentError(
            f"{name}: cannot read this kind of file; give one of {known}"
        )
    return kind


def read_document(
    filename: str, data: bytes, limits: DocumentLimits, ocr: OcrReader | None = None
) -> Document:
    """`data`, the file called `filename`, read into passages; raises `DocumentError`."""
    name = checked_name(filename)
    kind = document_kind(name)
    if len(data) > limits.max_bytes:
        raise DocumentTooLargeError(
            f"{name} is {len(data) / 1e6:.1f} MB, over the limit of {limits.max_bytes / 1e6:g} MB"
        )
    if not data:
        raise UnreadableDocumentError(f"{name} is empty")
    pages = 1
    if kind == "pdf":
        if not data.startswith(b"%PDF-"):
            raise UnreadableDocumentError(f"{name} is not a PDF (its contents are something else)")
        texts = pdf_pages(data, name, limits, ocr)
        pages = len(texts)
        passages = [p for number, text in enumerate(texts, 1) for p in _split(name, text, number)]
    else:
        passages = _split(name, _markdown(name, kind, data, limits, ocr), None)
    if not passages:
        raise UnreadableDocumentError(f"{name} has no text to read")
    return Document(name=name, kind=kind, data=data, pages=pages, passages=tuple(passages))


def _markdown(
    name: str, kind: str, data: bytes, limits: DocumentLimits, ocr: OcrReader | None
) -> str:
    if kind == "docx":
        if not data.startswith(b"PK"):
            raise UnreadableDocumentError(f"{name} is not a DOCX (its contents are something else)")
        return docx_markdown(data, name, limits)
    if kind == "image":
        if ocr is None:
            raise UnsupportedDocumentError(f"{name}: images cannot be read here (no OCR)")
        try:
            return ocr(data)
        except MegrezSearchError as exc:
            raise UnreadableDocumentError(f"{name}: {exc}") from exc
    binary = sniff_binary(data)
    if binary:
        raise UnreadableDocumentError(f"{name} holds {binary}, not text")
    text = decode_text(data)
    if kind == "html":
        return clean_html(text, name).text
    return text.replace("\r\n", "\n")


#: Control characters other than tabs and line ends: PDFs' text layers hold NULs at times,
#: which no database can store.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _split(name: str, text: str, page: int | None) -> list[DocumentPassage]:
    text = _CONTROL.sub("", text)
    if not text.strip():
        return []
    found = split_passages(Page(url=name, final_url=name, title=name, text=text, content_type=""))
    return [
        DocumentPassage(text=p.text, page=page, heading=" > ".join(p.heading_path))
        for p in found
        if p.text.strip()
    ]
