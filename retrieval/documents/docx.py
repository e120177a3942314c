"""DOCX to Markdown through python-docx: headings, paragraphs and tables in document order.

A DOCX is a zip: its members' unpacked sizes are checked before anything is unpacked
(Python's zipfile never unpacks a member beyond its declared size, so the check holds).
"""

from __future__ import annotations

import io
import logging
import zipfile
from typing import Any

from retrieval.errors import DocumentTooLargeError, UnreadableDocumentError
from retrieval.policy import DocumentLimits

log = logging.getLogger(__name__)

MAX_MEMBERS = 5_000


def check_zip(data: bytes, name: str, limits: DocumentLimits) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableDocumentError(f"{name} is not a readable DOCX (damaged?)") from exc
    unpacked = sum(member.file_size for member in members)
    if len(members) > MAX_MEMBERS or unpacked > limits.max_unpacked_bytes:
        log.info("refused DOCX %s: %d members, %d bytes unpacked", name, len(members), unpacked)
        raise DocumentTooLargeError(
            f"{name} unpacks to {unpacked:,} bytes in {len(members)} parts, over the limit "
            f"of {limits.max_unpacked_bytes:,} bytes; it cannot be read safely"
        )


def docx_markdown(data: bytes, name: str, limits: DocumentLimits) -> str:
    check_zip(data, name, limits)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        for element in document.element.body.iterchildren():
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "p":
                blocks.append(_paragraph(Paragraph(element, document)))
            elif tag == "tbl":
                blocks.append(_table(Table(element, document)))
    except Exception as exc:  # python-docx raises many kinds on damaged files
        log.info("cannot read DOCX %s: %r", name, exc)
        raise UnreadableDocumentError(f"{name} is not a readable DOCX (damaged?)") from exc
    return "\n\n".join(block for block in blocks if block.strip())


def _paragraph(paragraph: Any) -> str:
    text = " ".join(paragraph.text.split())
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if text and style == "Title":
        return f"# {text}"
    if text and style.startswith("Heading"):
        level = style.removeprefix("Heading").strip()
        return "#" * (min(int(level), 6) if level.isdigit() else 1) + f" {text}"
    return text


def _table(table: Any) -> str:
    rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in table.rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + " --- |" * len(rows[0]))
    return "\n".join(lines)
