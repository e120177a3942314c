"""Answers, sources and step labels as Markdown that is safe to show in the chat.

Page titles, snippets, URLs and model output are untrusted: a fetched page can carry
`<script>` or `<img onerror=...>` in its title, and a model can echo it. Everything that
came from outside goes through one of these functions before it reaches the Chatbot, so it
renders as text, never as live HTML. (The Chatbot's own HTML sanitiser stays on as a second
line of defence.) Citation numbers become links only when the source they name exists.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

# Characters with a meaning in (GitHub-flavoured) Markdown; escaped in untrusted plain text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>$-])")
# Code spans and fences are shown verbatim by Markdown, so their `<` needs no escaping.
_CODE = re.compile(r"(```.*?(?:```|$)|`[^`\n]*`)", re.DOTALL)
_CITATION = re.compile(r"\[(\d{1,3})\]")
# Characters left as they are in a link destination; the rest are percent-encoded, which
# keeps `(`, `)`, `<`, `>`, quotes and spaces from ending the Markdown link early.
_URL_SAFE = ":/?#@!$&'*+,;=%~-._"
# Where a Markdown link's destination starts: inline links `[x](dest)` and reference
# definitions `[x]: dest` at the start of a line.
_INLINE_DESTINATION = re.compile(r"\]\(")
_REFERENCE_DEFINITION = re.compile(r"^( {0,3})\[((?:[^\]\\\n]|\\.)+)\]:[ \t]*", re.MULTILINE)


def plain(text: str) -> str:
    """Untrusted text as Markdown that renders exactly as this text, on one line."""
    text = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def safe_url(url: str) -> str | None:
    """`url` ready for a Markdown link if it is http(s); None for anything else."""
    try:
        parts = urlsplit(str(url).strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return quote(parts.geturl(), safe=_URL_SAFE)


def site_of(url: str) -> str:
    """The host name shown beside a source (`docs.python.org`)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return host.removeprefix("www.")


def link(label: str, url: str) -> str:
    """A Markdown link with `label` as plain text; just the text when the URL is unusable."""
    target = safe_url(url)
    return f"[{plain(label)}]({target})" if target else plain(label)


def _sources_by_number(sources: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {int(source["n"]): source for source in sources if safe_url(source.get("url", ""))}


def _escape_html(text: str) -> str:
    """Model prose with HTML neutralised but its Markdown (lists, bold) kept."""
    # `&` first so that an entity the model wrote shows as written, then tags and images
    # (a remote image in an answer would load from wherever a page told the model to point).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("![", "!\\[")


def _destination(text: str, start: int) -> str:
    """The link destination that begins at `start` (up to whitespace or its closing paren)."""
    while start < len(text) and text[start] in " \t":
        start += 1
    if text.startswith("\n", start):
        start += 1
    depth, end = 0, start
    while end < len(text) and not text[end].isspace():
        char = text[end]
        if char == "\\":
            end += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        end += 1
    return text[start:end]


def allowed_link_target(destination: str) -> bool:
    """Only web pages and in-page anchors may be link targets: never javascript:, data:..."""
    target = html.unescape(destination).strip().strip("<>").strip()
    return target.startswith("#") or safe_url(target) is not None


def neutralise_links(text: str) -> str:
    """`text` with every Markdown link to anything but http(s) or `#anchor` made plain text.

    Our own line of defence against active links (`javascript:`, `data:`, `vbscript:`) in
    model or user text, not left to the Chatbot's sanitiser alone: the `]` that would close
    the link text is escaped, so the label shows and nothing is linked.
    """
    pieces: list[str] = []
    last = 0
    for match in _INLINE_DESTINATION.finditer(text):
        escaped = (len(text[: match.start()]) - len(text[: match.start()].rstrip("\\"))) % 2
        if not escaped and not allowed_link_target(_destination(text, match.end())):
            pieces.append(text[last : match.start()] + "\\]")
            last = match.start() + 1
    text = "".join(pieces) + text[last:]

    def definition(match: re.Match[str]) -> str:
        if allowed_link_target(_destination(text, match.end())):
            return match.group(0)
        return match.group(0).replace("[", "\\[", 1)

    return _REFERENCE_DEFINITION.sub(definition, text)


def _attr(text: str) -> str:
    """Untrusted text as an HTML attribute value or element text: one line, nothing live."""
    return html.escape(" ".join(str(text).split()), quote=True)


def plain_answer(answer: str, sources: Iterable[Mapping[str, Any]]) -> str:
    """The answer as portable Markdown: HTML neutralised, `[N]` kept only where source N
    exists (plain `[N]`, which Markdown shows as written; the sources list has the URLs)."""
    numbers = set(_sources_by_number(sources))

    def cite(match: re.Match[str]) -> str:
        return match.group(0) if int(match.group(1)) in numbers else ""

    pieces = _CODE.split(answer)
    return "".join(
        piece if index % 2 else _CITATION.sub(cite, neutralise_links(_escape_html(piece)))
        for index, piece in enumerate(pieces)
    ).strip()


def citation_html(number: int, source: Mapping[str, Any]) -> str:
    """`[N]` as a link to its page; its title shows the passage (the preview in ui.js reads
    the card with the same number). Only `class`, `href` and `title` survive the Chatbot's
    sanitiser, so nothing else is written."""
    url = str(source["url"])
    title = str(source.get("title") or url)
    snippet = str(source.get("snippet") or "")
    tooltip = f"{title} — {site_of(url)}" + (f": {snippet}" if snippet else "")
    href = _attr(safe_url(url) or "")
    return f'<a class="cite" href="{href}" title="{_attr(tooltip)}">[{number}]</a>'


def render_answer(answer: str, sources: Iterable[Mapping[str, Any]]) -> str:
    """The answer as Markdown: `[N]` becomes a link to source N (with its passage for the
    preview); numbers with no source vanish."""
    by_number = _sources_by_number(sources)

    def cite(match: re.Match[str]) -> str:
        source = by_number.get(int(match.group(1)))
        if source is None:
            return ""
        return citation_html(int(match.group(1)), source)

    pieces: list[str] = []
    for index, piece in enumerate(_CODE.split(answer)):
        if index % 2:  # a code span or fence: shown verbatim, never parsed as HTML
            pieces.append(piece)
        else:
            pieces.append(_CITATION.sub(cite, neutralise_links(_escape_html(piece))))
    return "".join(pieces).strip()


def render_cards(sources: Iterable[Mapping[str, Any]]) -> str:
    """The numbered source cards under an answer (title, site, the passage used), as one
    line of HTML: a Markdown HTML block ends at the first blank line. The Chatbot's
    sanitiser keeps only classes, roles, titles and links, which is all the cards use."""
    cards = []
    for source in sources:
        url = str(source.get("url", ""))
        number = int(source["n"])
        title = _attr(str(source.get("title") or url))
        site = _attr(site_of(url))
        # All of it: CSS clamps it to three lines, the citation preview shows it whole.
        snippet = str(source.get("snippet") or "")
        target = safe_url(url)
        heading = (
            f'<a class="source-title" href="{_attr(target)}">{title}</a>'
            if target
            else f'<span class="source-title">{title}</span>'
        )
        cards.append(
            f'<div class="source-card" role="listitem">'
            f'<span class="source-n">{number}</span>{heading}'
            f'<span class="source-site">{site}</span>'
            f'<span class="source-snippet">{_attr(snippet)}</span></div>'
        )
    if not cards:
        return ""
    return '<div class="source-cards" role="list" aria-label="Sources">' + "".join(cards) + "</div>"


def render_reply(answer: str, sources: Iterable[Mapping[str, Any]]) -> str:
    """Answer plus its source cards, as one chat message."""
    sources = list(sources)
    body = render_answer(answer, sources)
    cards = render_cards(sources)
    return f"{body}\n\n{cards}" if cards else body
