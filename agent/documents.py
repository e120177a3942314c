"""Files as sources, on the agent's side: reading them with the runtime's OCR, and turning
the store's matching passages into pages that are ranked and cited beside the web's.

A file passage becomes a `Page` whose URL is `doc:<id>#page=<n>` (one source per file
page, so "[2]" names "report.pdf, p. 7") and whose title says file and page.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from megrez_search.retrieval.documents import Document, read_document
from megrez_search.retrieval.policy import DocumentLimits
from megrez_search.retrieval.types import Page

from megrez_search.runtime.perception.images import read_image
from megrez_search.store.documents import DocumentHit

DOC_SCHEME = "doc:"


def ocr_image(data: bytes) -> str:
    """The text on an image given as bytes, through the runtime's OCR (RapidOCR)."""
    with tempfile.TemporaryDirectory(prefix="megrez-ocr-") as folder:
        path = Path(folder) / "image"
        path.write_bytes(data)
        return read_image(path)


def read_file(filename: str, data: bytes, limits: DocumentLimits) -> Document:
    """`read_document` with OCR for images and scanned PDFs; raises `DocumentError`."""
    return read_document(filename, data, limits, ocr=ocr_image)


def source_title(name: str, page: int | None) -> str:
    """How a file source is named in citations and cards: "report.pdf, p. 7"."""
    return f"{name}, p. {page}" if page is not None else name


def source_url(doc_id: str, page: int | None) -> str:
    return f"{DOC_SCHEME}{doc_id}" + (f"#page={page}" if page is not None else "")


def is_file_source(url: str) -> bool:
    return url.startswith(DOC_SCHEME)


def hits_as_pages(hits: list[DocumentHit]) -> list[Page]:
    """One page per (file, page) of `hits`, holding its matching passages in order."""
    grouped: dict[str, tuple[DocumentHit, list[str]]] = {}
    for hit in hits:
        url = source_url(hit.doc_id, hit.page)
        text = f"## {hit.heading.split(' > ')[-1]}\n\n{hit.text}" if hit.heading else hit.text
        grouped.setdefault(url, (hit, []))[1].append(text)
    return [
        Page(
            url=url,
            final_url=url,
            title=source_title(hit.name, hit.page),
            text="\n\n".join(texts),
            content_type="text/markdown",
            from_cache=True,
        )
        for url, (hit, texts) in grouped.items()
    ]
