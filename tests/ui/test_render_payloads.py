"""Issue 20 item 2: answer text that tries to load a remote image or make an active link.

Each payload is checked where it could come alive: the chat message (HTML), and the Markdown
of "Copy answer" and of an exported chat, each read by the most permissive CommonMark
renderer (raw HTML on, any link scheme accepted). The old code split code spans with its own
regular expression, which disagreed with the parser that rendered the text.
"""

from __future__ import annotations

import markdown_it
import pytest

from tests.support.html_tags import start_tags
from tests.support.payloads import hostile_markdown
from ui.export import answer_markdown, conversation_markdown
from ui.render import render_answer, render_reply

SOURCE = "http://127.0.0.1:8765/library/functools.html"
SOURCES = [{"n": 1, "url": SOURCE, "title": "functools", "snippet": "Caches calls."}]
EVIL = "http://127.0.0.1:9/leak.png?secret"

PAYLOADS = hostile_markdown(EVIL, SOURCE)
ALLOWED_TAGS = {"p", "br", "em", "strong", "code", "pre", "ul", "ol", "li", "a", "div", "span"}


def permissive(markdown: str) -> str:
    md = markdown_it.MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md.render(markdown)


def assert_nothing_live(html: str, headings: bool = False) -> None:
    """Only the allowed tags (headings: an export's title and questions), no `src` or event
    attribute anywhere, and links only to the source."""
    tags = start_tags(html)
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS | ({"h1", "h2"} if headings else set()), html
    for tag, attrs in tags:
        assert "src" not in attrs and not any(a.startswith("on") for a in attrs), html
        if tag == "a":
            # The source's page, at most with a text fragment (a chip's supporting span).
            assert attrs["href"].split("#:~:text=")[0] == SOURCE, html


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_chat_message_loads_nothing_and_links_only_sources(payload: str) -> None:
    """The Chatbot shows the HTML as is; a Markdown pass over it must change nothing live."""
    html = render_reply(payload, SOURCES)
    assert "\n" not in html  # one line: no blank line can end an HTML block
    assert_nothing_live(html)
    assert_nothing_live(permissive(html))


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_copy_and_export_markdown_load_nothing_and_link_only_sources(payload: str) -> None:
    copied = answer_markdown(payload, SOURCES)
    exported = conversation_markdown(
        "A chat", [{"role": "user", "content": payload}, {"role": "assistant", "content": payload}]
    )
    for markdown in (copied, exported):
        assert_nothing_live(permissive(markdown), headings=True)


def test_allowed_markup_is_kept() -> None:
    text = (
        "Use **lru_cache** and *maxsize* [1]:\n\n- `cache[key]`\n- [the docs]"
        f"({SOURCE})\n\n3. third\n\n```\nx = 1\n\ny = 2\n```"
    )
    html = render_answer(text, SOURCES)
    assert html.startswith("<p>Use <strong>lru_cache</strong> and <em>maxsize</em> <a class")
    assert f'<li><a href="{SOURCE}">the docs</a></li>' in html
    assert "<li><code>cache[key]</code></li>" in html and '<ol start="3"><li>third' in html
    assert "<pre><code>x = 1&#10;&#10;y = 2&#10;</code></pre>" in html
    copied = answer_markdown(text, SOURCES)
    assert copied.startswith("Use **lru\\_cache** and *maxsize* [1]\\:\n\n- `cache[key]`\n")
    assert f"- [the docs]({SOURCE})\n\n3. third\n\n```\nx = 1\n\ny = 2\n```" in copied


def test_images_become_their_alt_text_and_foreign_links_their_label() -> None:
    html = render_answer(f"![a chart]({EVIL}) [a page]({EVIL}) [1]({EVIL})", SOURCES)
    assert html.startswith("<p>a chart a page <a class=")
    assert html.endswith(f"[1]</a>({EVIL})</p>")
    assert "\\!\\[" not in answer_markdown(f"![a chart]({EVIL})", SOURCES)
    assert answer_markdown(f"![a chart]({EVIL})", []).strip() == "a chart"
