"""PDF pages to text through pypdf; a page without a text layer (a scan) through OCR."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from retrieval.errors import DocumentTooLargeError, UnreadableDocumentError
from retrieval.policy import DocumentLimits

if TYPE_CHECKING:
    import pypdf

log = logging.getLogger(__name__)


def _open(data: bytes, name: str) -> pypdf.PdfReader:
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocumentError(
                f"{name} is encrypted with a password; save a copy without one and upload it"
            )
        len(reader.pages)  # reads the page tree: a broken one fails here, not half-way
    except UnreadableDocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged or encrypted files
        log.info("cannot read PDF %s: %r", name, exc)
        if reader_is_encrypted(data):
            raise UnreadableDocumentError(
                f"{name} is encrypted; save a copy without encryption and upload it"
            ) from exc
        raise UnreadableDocumentError(f"{name} is not a readable PDF (damaged?)") from exc
    return reader


def reader_is_encrypted(data: bytes) -> bool:
    """Whether a PDF that failed to open declares encryption (its trailer's /Encrypt)."""
    return b"/Encrypt" in data[-4096:] or b"/Encrypt" in data[:4096]


def pdf_pages(
    data: bytes, name: str, limits: DocumentLimits, ocr: Callable[[bytes], str] | None
) -> list[str]:
    """The text of each page, in order (a page may be ""); raises `DocumentError`s."""
    reader = _open(data, name)
    count = len(reader.pages)
    if count > limits.max_pages:
        raise DocumentTooLargeError(
            f"{name} has {count} pages, over the limit of {limits.max_pages}; split it"
        )
    try:
        texts = [(page.extract_text() or "").strip() for page in reader.pages]
    except Exception as exc:
        log.info("cannot extract text of PDF %s: %r", name, exc)
        raise UnreadableDocumentError(f"{name}: its text cannot be read (damaged?)") from exc
    blank = [index for index, text in enumerate(texts) if not text]
    scanned = bool(blank) and len(blank) == count
    if scanned and (ocr is None or count > limits.ocr_pages):
        reason = (
            f"OCR reads scans of at most {limits.ocr_pages} pages"
            if ocr is not None
            else "OCR is not available here"
        )
        raise UnreadableDocumentError(
            f"{name} has no text layer (a scan?) and {reason}; "
            "upload a PDF with text or fewer pages"
        )
    if ocr is not None:  # pages of figures in a text PDF, or a short scan
        for index in blank[: limits.ocr_pages]:
            texts[index] = _ocr_page(reader, index, ocr, name)
    return texts


def _ocr_page(reader: pypdf.PdfReader, index: int, ocr: Callable[[bytes], str], name: str) -> str:
    """The text OCR reads on the images of page `index` (a scanned page is one image)."""
    parts: list[str] = []
    try:
        images = list(reader.pages[index].images)
    except Exception as exc:  # noqa: BLE001 - a page whose images fail is read as blank
        log.info("cannot read the images of %s page %d: %r", name, index + 1, exc)
        return ""
    for image in images:
        text = ocr(image.data).strip()
        if text:
            parts.append(text)
    return "\n\n".join(parts)
