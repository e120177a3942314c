"""How a file given as a source is named: its URL `doc:<id>#page=<n>`, its title
"report.pdf, p. 7", and the fields its source object carries (id, file name, page)."""

from __future__ import annotations

import re
from typing import Any

DOC_SCHEME = "doc:"
_DOC_URL = re.compile(r"^doc:([0-9a-f]{32})(?:#page=(\d+))?$")


def source_title(name: str, page: int | None) -> str:
    """How a file source is named in citations and cards: "report.pdf, p. 7"."""
    return f"{name}, p. {page}" if page is not None else name


def source_url(doc_id: str, page: int | None) -> str:
    return f"{DOC_SCHEME}{doc_id}" + (f"#page={page}" if page is not None else "")


def parse_source_url(url: str) -> tuple[str, int | None] | None:
    """(document id, page) of a file source's URL; None for any other URL."""
    found = _DOC_URL.match(url)
    if found is None:
        return None
    return found.group(1), int(found.group(2)) if found.group(2) else None


def file_fields(url: str, title: str) -> dict[str, Any]:
    """A file source's `doc_id`, `file_name` and `page` (if any), for its source object."""
    parsed = parse_source_url(url)
    if parsed is None:
        return {}
    doc_id, page = parsed
    suffix = f", p. {page}"
    name = title[: -len(suffix)] if page is not None and title.endswith(suffix) else title
    fields: dict[str, Any] = {"doc_id": doc_id, "file_name": name}
    if page is not None:
        fields["page"] = page
    return fields


def is_file_source(url: str) -> bool:
    return url.startswith(DOC_SCHEME)
