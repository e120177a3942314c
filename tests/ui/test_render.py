"""Untrusted text (page titles, snippets, model output) renders as text, links only to sources."""

from __future__ import annotations

import re

import markdown_it
import pytest

from agent.events import (
    AnswerEvent,
    DoneEvent,
    PageEvent,
    PrefillEvent,
    QueryEvent,
    SourcesEvent,
    StepEvent,
    TokenEvent,
)
from agent.result import AskResult
from tests.support.html_tags import hrefs, tag_names
from ui.conversation import TurnView, messages_from_turns
from ui.render import plain, render_answer, render_cards, render_reply, safe_url

HOSTILE_TITLE = (
    '<script>alert("x")</script><img src=x onerror=alert(1)> [evil](javascript:alert(1))'
)
FUNCTOOLS = "http://127.0.0.1:8765/library/functools.html"


def to_html(markdown: str) -> str:
    """CommonMark with raw HTML enabled: the most permissive renderer the text could meet."""
    return markdown_it.MarkdownIt("commonmark", {"html": True}).render(markdown)


def test_plain_text_never_becomes_markup() -> None:
    html = to_html(plain(HOSTILE_TITLE))
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "&lt;script&gt;" in html  # shown as text
    assert "onerror=alert(1)" in html


def test_only_existing_sources_become_citation_links() -> None:
    sources = [{"n": 1, "url": FUNCTOOLS, "title": "functools"}]
    html = render_answer("lru_cache caches calls [1]. Made up [7].", sources)
    assert f'<a class="cite" href="{FUNCTOOLS}" title="functools — 127.0.0.1">[1]</a>' in html
    assert "[7]" not in html


def test_citation_and_card_carry_hostile_text_only_as_text() -> None:
    source = {"n": 1, "url": FUNCTOOLS, "title": HOSTILE_TITLE, "snippet": HOSTILE_TITLE}
    html = render_reply("It caches [1].", [source])
    assert tag_names(html) <= {"p", "a", "div", "span"}
    assert hrefs(html) == [FUNCTOOLS, FUNCTOOLS]  # the citation and the card's title
    assert 'title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;' in html  # the preview
    assert '<span class="source-snippet">&lt;script&gt;' in html  # the card's passage


def test_model_output_html_is_shown_as_text_but_markdown_kept() -> None:
    html = render_answer("**Bold** <img src=x onerror=alert(1)> ![t](http://e/x.png) `<b>`", [])
    assert html == (
        "<p><strong>Bold</strong> &lt;img src=x onerror=alert(1)&gt; t <code>&lt;b&gt;</code></p>"
    )


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,<script>", "ftp://x/y", "nope"]
)
def test_non_web_urls_are_not_linked(url: str) -> None:
    assert safe_url(url) is None
    html = render_reply("See [1].", [{"n": 1, "url": url, "title": "t"}])
    assert "a" not in tag_names(html) and '<span class="source-title" title="t">t</span>' in html


def test_link_destination_cannot_be_broken_out_of() -> None:
    url = 'http://127.0.0.1/a b)"<script>'
    html = render_cards([{"n": 1, "url": url, "title": HOSTILE_TITLE}])
    assert tag_names(html) == {"div", "span", "a"}
    assert hrefs(html) == ["http://127.0.0.1/a%20b%29%22%3Cscript%3E"]


def test_source_cards_show_number_title_site_and_passage() -> None:
    source = {"n": 1, "url": FUNCTOOLS, "title": "functools — Higher-order", "snippet": "Caches."}
    html = render_reply("Answer [1].", [source])
    assert 'aria-label="Sources"' in html and '<span class="source-n">1</span>' in html
    assert (
        f'<a class="source-title" href="{FUNCTOOLS}" title="functools — Higher-order">'
        "functools — Higher-order</a>"
    ) in html
    assert '<span class="source-site">127.0.0.1</span>' in html
    assert '<span class="source-snippet">Caches.</span>' in html


def test_turn_view_streams_steps_pages_and_answer() -> None:
    view = TurnView(question="What is lru_cache?")
    view.apply(StepEvent(step="search", label="Searching: lru_cache"))
    view.apply(StepEvent(step="fetch", label="Reading 2 pages"))
    view.apply(PageEvent(url=FUNCTOOLS, title=HOSTILE_TITLE, ok=True))
    view.apply(PageEvent(url="http://127.0.0.1/x", title="x", ok=False, reason="HTTP 404"))
    view.apply(SourcesEvent(sources=[{"n": 1, "url": FUNCTOOLS, "title": "functools"}]))
    view.apply(TokenEvent(text="It caches [1]"))
    messages = view.messages()
    # One progress message: the live step is its title, the steps are its body.
    progress = [m for m in messages if "metadata" in m]
    assert len(progress) == 1 and progress[0]["metadata"]["title"] == "Reading 2 pages…"
    assert progress[0]["metadata"]["status"] == "pending"
    body = progress[0]["content"]
    assert "<li>Searching: lru_cache</li>" in body and "✗ x — HTTP 404" in body
    assert tag_names(body) == {"ul", "li", "a"} and hrefs(body) == [FUNCTOOLS]
    assert FUNCTOOLS in messages[-1]["content"]
    view.apply(AnswerEvent(answer="It caches calls [1].", citations=[1]))
    assert "It caches calls" in view.messages()[-1]["content"]
    view.apply(QueryEvent(query="lru_cache"))
    view.progress.done, view.progress.total_s = True, 3.21
    assert view.progress.message()["metadata"] == {
        "title": "Searched 1 query · read 1 page · 3.2 s",
        "status": "done",
    }


def test_turn_view_shows_how_far_the_model_has_read_the_sources() -> None:
    view = TurnView(question="What is lru_cache?")
    view.apply(StepEvent(step="answer", label="Writing the answer"))
    assert view.progress.title() == "Writing the answer…"
    view.apply(PrefillEvent(done=384, total=1000))
    assert view.progress.title() == "Reading the sources · 38%…"
    view.apply(PrefillEvent(done=1000, total=1000))
    assert view.progress.title() == "Writing the answer…"
    view.apply(PrefillEvent(done=5, total=0))  # a malformed report changes nothing
    assert view.progress.title() == "Writing the answer…"


def test_history_rebuilds_the_chat() -> None:
    turns = [
        {"role": "user", "content": "What is lru_cache?", "transcript": None},
        {
            "role": "assistant",
            "content": "A cache [1].",
            "queries": ["lru_cache"],
            "sources": [{"n": 1, "url": FUNCTOOLS, "title": "functools"}],
            "searched": True,
        },
    ]
    messages = messages_from_turns(turns)
    assert messages[0] == {"role": "user", "content": "<p>What is lru_cache?</p>"}
    assert messages[1]["metadata"]["title"] == "Searched 1 query · read 1 page"
    assert "<li>Searched: lru_cache<ul><li><a href" in messages[1]["content"]
    assert FUNCTOOLS in messages[2]["content"]


def test_cards_show_snippets_as_plain_text_the_site_name_and_which_are_not_cited() -> None:
    sources = [
        {
            "n": 1,
            "url": FUNCTOOLS,
            "title": "functools — Higher-order functions — Python 3.13 documentation",
            "snippet": "The *maxsize* is **128**: ```python @lru_cache(maxsize=128) ``` `typed`",
        },
        {"n": 2, "url": "http://www.example.org/notes", "title": "Notes", "snippet": "# Notes"},
    ]
    html = render_reply("It keeps 128 calls [1].", sources)
    snippets = re.findall(r'<span class="source-snippet">([^<]*)</span>', html)
    assert snippets == ["The maxsize is 128: python @lru_cache(maxsize=128) typed", "Notes"]
    sites = re.findall(r'<span class="source-site">([^<]*)</span>', html)
    assert sites == ["Python 3.13 documentation", "example.org"]
    assert re.findall(r'<div class="(source-card(?: [^"]*)?)" role', html) == [
        "source-card",
        "source-card uncited",
    ]
    assert html.count("not cited") == 1
    # While the answer is written, no card is marked: it may cite them all yet.
    assert "uncited" not in render_reply("It keeps", sources, final=False)


def test_sources_show_before_the_first_word_and_the_live_line_is_the_progress_title() -> None:
    view = TurnView(question="What is lru_cache?")
    view.apply(StepEvent(step="rank", label="Picking the relevant passages"))
    view.apply(SourcesEvent(sources=[{"n": 1, "url": FUNCTOOLS, "title": "functools"}]))
    view.apply(StepEvent(step="answer", label="Writing the answer"))
    view.apply(PrefillEvent(done=510, total=1000))
    messages = view.messages()
    assert 'class="source-card"' in messages[-1]["content"]  # no word written yet
    assert messages[-2]["metadata"]["title"] == "Reading the sources · 51%…"
    assert view.status() == ""  # one live line: nothing else says what is happening


def recorded_turns(seconds: float | None, stopped: bool) -> list[dict]:
    return [
        {"role": "user", "content": "What is lru_cache?"},
        {
            "role": "assistant",
            "content": "A cache [1].",
            "queries": ["lru_cache"],
            "sources": [{"n": 1, "url": FUNCTOOLS, "title": "functools"}],
            "searched": True,
            "at": "2026-12-06T01:40:05+00:00",
            "seconds": seconds,
            "pages_read": 2,
            "stopped": stopped,
            "model": "SmolLM2-135M-Instruct",
        },
    ]


def test_a_live_turn_and_its_reload_show_the_same_summary_time_model_and_stop() -> None:
    turns = recorded_turns(8.14, stopped=True)
    view = TurnView(question="What is lru_cache?")
    view.apply(StepEvent(step="search", label="Searching: lru_cache"))
    for n in range(3):  # one more page fetched than read: the recorded count is shown
        view.apply(PageEvent(url=f"{FUNCTOOLS}?{n}", title="f", ok=True))
    result = AskResult(
        answer="A cache [1].",
        thread_id="t",
        queries=["lru_cache"],
        sources=turns[1]["sources"],
        timings={"total": 8.19},
        stopped=True,
        recorded=turns[1],
    )
    view.apply(DoneEvent(result=result))
    live, reloaded = view.messages()[1:], messages_from_turns(turns)[1:]
    assert live[0]["metadata"]["title"] == "Searched 1 query · read 2 pages · 8.1 s"
    assert reloaded[0]["metadata"] == live[0]["metadata"]
    assert reloaded[1]["content"] == live[1]["content"]
    assert (
        '<span class="answer-time" title="2026-12-06T01:40:05+00:00">01:40</span>'
        in (live[1]["content"])
    )
    assert "SmolLM2-135M-Instruct" in live[1]["content"]
    assert live[-1] == reloaded[-1] == {"role": "assistant", "content": "⚠ Stopped."}
    assert view.status() == "■ Stopped"


def test_a_chip_links_its_page_at_the_sentence_that_supports_the_claim() -> None:
    passage = (
        "The lru_cache decorator keeps recent calls. Its maxsize defaults to 128 entries; "
        "maxsize=None makes the cache unbounded."
    )
    sources = [
        {"n": 1, "url": f"{FUNCTOOLS}#functools.lru_cache", "title": "f", "snippet": passage}
    ]
    html = render_answer("It keeps calls. The maxsize default is 128 [1].", sources)
    # A text fragment after the anchor: the span's first and last words, `-`/`,` escaped.
    fragment = "Its%20maxsize%20defaults%20to,makes%20the%20cache%20unbounded."
    assert hrefs(html) == [f"{FUNCTOOLS}#functools.lru_cache:~:text={fragment}"]
    # A chip written inside its sentence ("according to [1], …") gets the whole sentence.
    inside = render_answer("It keeps calls. According to [1], the maxsize default is 128.", sources)
    assert hrefs(inside) == [f"{FUNCTOOLS}#functools.lru_cache:~:text={fragment}"]
    # A claim the passage does not hold links the page as it is.
    assert hrefs(render_answer("The maxsize default is 256 [1].", sources)) == [
        f"{FUNCTOOLS}#functools.lru_cache"
    ]


def test_a_fragment_over_table_cells_or_list_entries_holds_only_page_text() -> None:
    """The passage's cell bars and the " - " joining a definition list's entries are not
    text of the page: the fragment runs from the first cell's words to the last one's."""
    passage = (
        "| Level | Numeric value |\n|---|---|\n| `CRITICAL` | 50 |\n| `ERROR` | 40 |\n"
        "- @functools.lru_cache(user_function) - @functools.lru_cache(maxsize=128, typed=False)"
    )
    sources = [{"n": 1, "url": FUNCTOOLS, "snippet": passage}]
    [row] = hrefs(render_answer("The numeric value of CRITICAL is 50 [1].", sources))
    assert row == f"{FUNCTOOLS}#:~:text=CRITICAL,50"
    [entries] = hrefs(render_answer("lru_cache takes maxsize=128 [1].", sources))
    assert entries == (
        f"{FUNCTOOLS}#:~:text=%40functools.lru_cache%28user_function%29,"
        "%40functools.lru_cache%28maxsize%3D128%2C%20typed%3DFalse%29"
    )


def test_a_hostile_span_stays_inside_the_link() -> None:
    passage = 'The cache size is 128 "><script>alert(1)</script> by default, a-b,c&d.'
    html = render_answer(
        "The cache size is 128 [1].", [{"n": 1, "url": FUNCTOOLS, "snippet": passage}]
    )
    assert tag_names(html) <= {"p", "a"}
    [href] = hrefs(html)
    assert href.startswith(f"{FUNCTOOLS}#:~:text=") and "<" not in href and '"' not in href
    assert "a%2Db%2Cc%26d." in href


def test_a_source_or_answer_holding_the_chip_placeholder_characters_changes_no_chip() -> None:
    """Chips are written after the block's text, in place of private-use marks; a page or a
    model that writes those characters must not move a chip into another chip's HTML."""
    mark = "\ue0001\ue001"
    sources = [
        {"n": 1, "url": FUNCTOOLS, "title": f"t{mark}", "snippet": f"maxsize is 128 {mark}"},
        {"n": 2, "url": f"{FUNCTOOLS}#b", "title": "b", "snippet": "typed is False"},
    ]
    html = render_answer(f"The maxsize is 128 [1]. Typed {mark}is False [2].", sources)
    assert html.count('class="cite"') == 2 and tag_names(html) == {"p", "a"}
    assert [h.split("#")[1] for h in hrefs(html)][1].startswith("b:~:text=typed")
    assert f'title="t{mark} ' in html  # the page's characters stay text of its own chip
