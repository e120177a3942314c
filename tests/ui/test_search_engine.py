"""The browser search engine's parts without a browser: the question handed over by the
page, the OpenSearch description, and what the "Search in" picker calls a chain; and the
title of a chat asked by voice or image (tests/ui/test_chrome_browser.py drives the page)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from agent.state import question_words
from ui.chats import chain_label
from ui.search_engine import (
    MAX_URL_QUESTION,
    UrlQuestion,
    link_tag,
    opensearch_description,
    url_question,
)

OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


def test_the_page_hands_over_a_question_with_its_switches() -> None:
    payload = json.dumps({"q": "  Where is lru_cache? ", "search": False, "deep": True})
    assert url_question(payload) == UrlQuestion("Where is lru_cache?", search=False, deep=True)
    assert url_question(json.dumps({"q": "x"})) == UrlQuestion("x", search=True, deep=False)
    assert len(url_question(json.dumps({"q": "a" * 5000})).text) == MAX_URL_QUESTION  # type: ignore[union-attr]


def test_anything_else_asks_nothing() -> None:
    for payload in ("", "not json", "[1, 2]", json.dumps({"q": "   "}), json.dumps({"x": 1})):
        assert url_question(payload) is None, payload


def test_description_is_opensearch_xml_even_for_a_strange_host() -> None:
    text = opensearch_description('http://evil"><x a="b:7860/')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.find(f"{OPENSEARCH}ShortName").text == "Megrez Search"  # type: ignore[union-attr]
    url = root.find(f"{OPENSEARCH}Url")
    assert url is not None and url.get("type") == "text/html"
    assert url.get("template") == 'http://evil"><x a="b:7860/?q={searchTerms}'
    assert 'href="/megrez/opensearch.xml"' in link_tag("/megrez/")


def test_search_in_names_what_the_chain_searches() -> None:
    assert chain_label(["local:pydocs"]) == "Index: pydocs"
    assert chain_label(["ddg"]) == "Web"
    assert chain_label(["searxng", "ddg"]) == "Web"
    assert chain_label(["ddg", "local:notes"]) == "Web and index: notes"


def test_a_voice_or_image_question_titles_its_chat_with_its_words() -> None:
    assert question_words(
        {"role": "user", "content": "", "transcript": " Capital of France? "}
    ) == ("Capital of France?")
    assert question_words({"role": "user", "content": "", "image_text": "STOP\nAHEAD"}) == (
        "Image: STOP AHEAD"
    )
    assert question_words({"role": "user", "content": "Typed", "transcript": "heard"}) == "Typed"
    assert question_words({"role": "user", "content": ""}) == ""
