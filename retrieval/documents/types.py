"""A file read as a source: its name, kind and passages, each with its page or heading."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentPassage:
    """A passage of a file; `page` counts from 1 (PDFs), None for files without pages."""

    text: str
    page: int | None = None
    heading: str = ""  # the heading path, "Chapter > Section"


@dataclass(frozen=True)
class Document:
    """A file read whole: nothing of it is stored unless reading it succeeded."""

    name: str  # the file's own name, checked (never a path)
    kind: str  # "pdf", "docx", "markdown", "text", "html" or "image"
    data: bytes  # the file as given, kept so its owner can open it
    pages: int  # a PDF's pages; 1 for other kinds
    passages: tuple[DocumentPassage, ...]
