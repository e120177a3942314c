"""Answers, sources and step labels as HTML that is safe to show in the chat (and as
Markdown for the text people copy).

Page titles, snippets, URLs and model output are untrusted: a fetched page can carry
`<script>` or `<img onerror=...>` in its title, a model can echo it, and a sentence quoted
from a page can carry `![x](http://host/?data)`. The Chatbot renders no Markdown of its own
(`render_markdown=False`): every message is HTML written here, answers by `ui.markup`'s one
parser, everything else from escaped text and a few fixed tags. (The Chatbot's HTML
sanitiser stays on as a second line of defence.) Citation numbers become chips only when
the source they name exists.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from megrez_search.ui.markup import Answer, escape_markdown, safe_url, to_html, to_markdown

__all__ = ["safe_url"]


def plain(text: str) -> str:
    """Untrusted text as Markdown that renders exactly as this text, on one line."""
    return escape_markdown(" ".join(str(text).split()))


def text_html(text: str) -> str:
    """Untrusted text as HTML element text, on one line."""
    return html.escape(" ".join(str(text).split()), quote=False)


def site_of(url: str) -> str:
    """The host name shown beside a source (`docs.python.org`)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return host.removeprefix("www.")


def link_html(label: str, url: str) -> str:
    """An HTML link with `label` as text; just the text when the URL is not http(s)."""
    target = safe_url(url)
    return f'<a href="{_attr(target)}">{text_html(label)}</a>' if target else text_html(label)


def _sources_by_number(sources: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {int(source["n"]): source for source in sources if safe_url(source.get("url", ""))}


def _attr(text: str) -> str:
    """Untrusted text as an HTML attribute value or element text: one line, nothing live."""
    return html.escape(" ".join(str(text).split()), quote=True)


def plain_answer(answer: str, sources: Iterable[Mapping[str, Any]]) -> str:
    """The answer as portable Markdown: only text, code, emphasis, lists, links to its
    sources and `[N]` for sources that exist are syntax (the sources list has the URLs)."""
    return to_markdown(Answer.parse(answer, _sources_by_number(sources))).strip()


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
    """The answer as HTML: `[N]` becomes a chip linking to source N (with its passage for
    the preview); numbers with no source vanish; links only to its sources, no images."""
    return to_html(Answer.parse(answer, _sources_by_number(sources)), citation_html).strip()


def render_cards(sources: Iterable[Mapping[str, Any]]) -> str:
    """The numbered source cards under an answer (title, site, the passage used), as HTML.
    The Chatbot's sanitiser keeps only classes, roles, titles and links, which is all the
    cards use."""
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
    return body + cards
