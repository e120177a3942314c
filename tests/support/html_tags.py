"""The elements of an HTML fragment, read by a real HTML parser (what a browser would build)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def start_tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """Every start tag of `html` with its attributes, in document order."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.found


def tag_names(html: str) -> set[str]:
    return {tag for tag, _ in start_tags(html)}


def hrefs(html: str) -> list[str]:
    return [attrs.get("href", "") for tag, attrs in start_tags(html) if tag == "a"]
