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
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from agent.support import supporting_span
from ui.markup import (
    Answer,
    escape_markdown,
    plain_text,
    safe_url,
    to_html,
    to_markdown,
)

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


# The separators a title's site name follows ("Flask | Pallets", "functools — Higher-order
# functions — Python 3.13 documentation"). "|" is one by convention; a dash only when it parts
# the title in three or more, since "functools — Higher-order" names the page, not the site.
# Only a PNG that retrieval re-encoded (retrieval/icons.py) is shown: no other scheme or type.
_ICON_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/]{1,20000}={0,2}")
_SITE_BAR = re.compile(r"\s\|\s")
_SITE_DASH = re.compile(r"\s[—–-]\s")
SITE_NAME_CHARS = 40


def site_name(title: str, url: str) -> str:
    """The site a source is from: the name its title ends with when it has one, else the
    host."""
    title = " ".join(str(title).split())
    for separator, parts_needed in ((_SITE_BAR, 2), (_SITE_DASH, 3)):
        parts = separator.split(title)
        last = parts[-1].strip()
        if len(parts) >= parts_needed and 2 <= len(last) <= SITE_NAME_CHARS:
            return last
    return site_of(url)


def source_site(source: Mapping[str, Any]) -> str:
    """The site shown beside a source: the name its page gave (recorded with the source),
    else `site_name`."""
    url = str(source.get("url", ""))
    return str(source.get("site") or site_name(str(source.get("title") or url), url))


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


def citation_html(number: int, source: Mapping[str, Any], sentence: str = "") -> str:
    """`[N]` as a link to its page; its title shows the passage (the preview in ui.js reads
    the card with the same number). The passage's sentence that supports `sentence` (the
    answer's, which the chip ends; `agent.support.supporting_span`) goes in the link as a
    text fragment: the browser opens the page at it, and the preview highlights it. Only
    `class`, `href` and `title` survive the Chatbot's sanitiser, so nothing else is written."""
    url = str(source["url"])
    title = str(source.get("title") or url)
    passage = str(source.get("snippet") or "")
    snippet = plain_text(passage)
    tooltip = f"{title} — {source_site(source)}" + (f": {snippet}" if snippet else "")
    # A web page only: a file's copy is linked at its page (`#page=3`), which a viewer
    # without text fragments would no longer read.
    web = urlsplit(url).scheme in {"http", "https"}
    named = str(source.get("title") or "")
    span = plain_text(supporting_span(sentence, passage, title=named)) if sentence and web else ""
    href = _attr(with_text_fragment(safe_url(url) or "", span))
    return f'<a class="cite" href="{href}" title="{_attr(tooltip)}">[{number}]</a>'


#: Words of a long span that name its start and its end in a text fragment.
FRAGMENT_EDGE_WORDS = 4


#: A table row's cell bars and the " - " between a flattened definition list's entries: the
#: passage's markup, not text of the page, where a fragment holding them would match nothing.
_CELL_OR_ENTRY_BREAK = re.compile(r"\s*\|\s*|\s+-\s+")


def with_text_fragment(url: str, span: str) -> str:
    """`url` with a text fragment (`#:~:text=start,end`) that points at `span`, or as it is
    when either is empty. A span over table cells or list entries runs from its first
    part's first words to its last part's last ones. The directive follows an existing
    `#anchor`, which browsers without text fragments keep using."""
    parts = [part.split() for part in _CELL_OR_ENTRY_BREAK.split(span) if part.strip()]
    if not url or not parts:
        return url
    first, last = parts[0], parts[-1]
    edges = (
        [first]
        if len(parts) == 1 and len(first) <= 2 * FRAGMENT_EDGE_WORDS
        else [first[:FRAGMENT_EDGE_WORDS], last[-FRAGMENT_EDGE_WORDS:]]
    )
    # `-`, `,` and `&` are the directive's own syntax inside it: always escaped.
    directive = ",".join(quote(" ".join(edge), safe="").replace("-", "%2D") for edge in edges)
    return f"{url}{'' if '#' in url else '#'}:~:text={directive}"


def render_answer(answer: str, sources: Iterable[Mapping[str, Any]]) -> str:
    """The answer as HTML: `[N]` becomes a chip linking to source N (with its passage for
    the preview); numbers with no source vanish; links only to its sources, no images."""
    return to_html(Answer.parse(answer, _sources_by_number(sources)), citation_html).strip()


def render_cards(sources: Iterable[Mapping[str, Any]], cited: Collection[int] | None = None) -> str:
    """The numbered source cards of an answer (title, site with its icon, the passage used
    as plain text), as HTML; with `cited` (the numbers the answer cites), the others are
    marked "not cited". Beyond classes, roles, titles and links the cards use only an `<img>`
    whose src is a PNG data URI (the page CSP's `img-src 'self' data:`)."""
    cards = []
    for source in sources:
        url = str(source.get("url", ""))
        number = int(source["n"])
        full_title = str(source.get("title") or url)
        title = _attr(full_title)
        site = _attr(source_site(source))
        # All of it: CSS clamps it to three lines, the citation preview shows it whole. The
        # passage is the page's Markdown: shown as the words a reader of the page saw.
        snippet = plain_text(str(source.get("snippet") or ""))
        target = safe_url(url)
        heading = (
            f'<a class="source-title" href="{_attr(target)}" title="{title}">{title}</a>'
            if target
            else f'<span class="source-title" title="{title}">{title}</span>'
        )
        uncited = cited is not None and number not in cited
        card_class = "source-card uncited" if uncited else "source-card"
        cards.append(
            f'<div class="{card_class}" role="listitem">'
            f'<span class="source-n">{number}</span>{heading}'
            f'<span class="source-site">{_icon_html(source)}{site}</span>'
            + ('<span class="source-uncited">not cited</span>' if uncited else "")
            + f'<span class="source-snippet">{_attr(snippet)}</span></div>'
        )
    if not cards:
        return ""
    return '<div class="source-cards" role="list" aria-label="Sources">' + "".join(cards) + "</div>"


def _icon_html(source: Mapping[str, Any]) -> str:
    """The site's icon before its name, decorative (`alt=""`), at a fixed size; nothing
    unless it is a PNG data URI."""
    icon = str(source.get("icon") or "")
    if not _ICON_URI.fullmatch(icon):
        return ""
    return f'<img class="source-icon" src="{icon}" alt="" width="16" height="16">'


def cited_in(answer: str, sources: Iterable[Mapping[str, Any]]) -> set[int]:
    """The source numbers that the answer's `[N]` chips point to."""
    numbers = set(_sources_by_number(sources))
    return {int(n) for n in re.findall(r"\[(\d{1,3})\]", answer)} & numbers


def answer_meta(at: str | None, model: str | None) -> str:
    """The answer's time and the model that wrote it, one small line under it (the title of
    the time holds the full date)."""
    parts = []
    try:
        when = datetime.fromisoformat(str(at)) if at else None
    except ValueError:
        when = None
    if when is not None:
        parts.append(f'<span class="answer-time" title="{_attr(str(at))}">{when:%H:%M}</span>')
    if model:
        parts.append(f'<span class="answer-model">{text_html(model)}</span>')
    return f'<div class="answer-meta">{" · ".join(parts)}</div>' if parts else ""


def render_reply(
    answer: str,
    sources: Iterable[Mapping[str, Any]],
    meta: str = "",
    final: bool = True,
) -> str:
    """One chat message: the source cards first (they are known before the first word),
    then the answer, then `meta` (`answer_meta`). Once `final`, the cards the answer does not
    cite are marked so; while it is written, none is."""
    sources = list(sources)
    cards = render_cards(sources, cited_in(answer, sources) if final else None)
    return cards + render_answer(answer, sources) + meta
