"""Chinese text in the local index and in passages: pages of our own making (no Chinese
documentation package is needed) found by Chinese queries, and sentences ending in 。！？."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from retrieval.index import build_index
from retrieval.index_store import index_path, search_index
from retrieval.passages import MAX_WORDS, split_passages
from retrieval.scripts import language_of, split_sentences, word_count
from retrieval.types import Page
from tests.support.policies import policy_for

PAGES = {
    "lighthouse.html": (
        "灯塔",
        "灯塔建在港口入口的岩石上。它的灯光每十秒闪烁一次，夜里二十海里外都能看见。",
    ),
    "tides.html": (
        "潮汐",
        "潮汐每天涨落两次。大潮出现在新月和满月之后，小潮出现在上弦月和下弦月之后。",
    ),
    "harbour.html": (
        "港口规则",
        "船只进港前必须用无线电联系港务长。港内航速不得超过五节！违反规定的船只会被罚款。",
    ),
}


def chinese_site(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, (title, body) in PAGES.items():
        (folder / name).write_text(
            f"<html lang='zh'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1><p>{body}</p></article></body></html>",
            encoding="utf-8",
        )
    return folder


def test_a_chinese_page_is_found_by_a_chinese_query(tmp_path: Path) -> None:
    policy = policy_for(data_dir=tmp_path / "data")
    build_index(
        str(chinese_site(tmp_path / "zh")), "zh", policy.indexes, policy.crawl, progress=False
    )

    for query, page in [
        ("灯塔的灯光多久闪烁一次？", "lighthouse.html"),
        ("大潮什么时候出现", "tides.html"),
        ("港内航速限制是多少？", "harbour.html"),
    ]:
        hits = search_index("zh", query, 3, policy.indexes)
        assert hits and hits[0].url.endswith(page), (query, [h.url for h in hits])
    # A query in another script's words finds nothing rather than everything.
    assert search_index("zh", "火山", 3, policy.indexes) == []


def test_an_index_made_before_cjk_terms_gets_them_on_its_next_search(tmp_path: Path) -> None:
    policy = policy_for(data_dir=tmp_path / "data")
    build_index(
        str(chinese_site(tmp_path / "zh")), "zh", policy.indexes, policy.crawl, progress=False
    )
    with sqlite3.connect(index_path("zh", policy.indexes)) as db:  # as an older version left it
        db.execute("DROP TABLE cjk_fts")
        db.execute("DELETE FROM meta WHERE key = 'cjk_version'")

    hits = search_index("zh", "潮汐每天涨落几次", 3, policy.indexes)
    assert hits and hits[0].url.endswith("tides.html")


def test_sentences_end_at_chinese_and_full_width_punctuation() -> None:
    text = "灯塔建在岩石上。它每十秒闪烁一次！你看见了吗？看见了；很亮．See it. Yes"
    assert split_sentences(text) == [
        "灯塔建在岩石上。",
        "它每十秒闪烁一次！",
        "你看见了吗？",
        "看见了；",
        "很亮．",
        "See it.",
        " Yes",
    ]
    assert "".join(split_sentences(text)) == text


def test_a_long_chinese_paragraph_is_split_at_sentence_ends() -> None:
    sentence = "港口的灯塔每十秒闪烁一次，夜里二十海里外都能看见它的灯光。"  # 29 characters
    paragraph = sentence * 20  # one paragraph without a single space
    passages = split_passages(Page("u", "u", "灯塔", paragraph, "text/markdown"))

    assert len(passages) > 1
    assert all(word_count(p.text) <= MAX_WORDS for p in passages)
    assert all(p.text.endswith("。") for p in passages)
    assert "".join(p.text for p in passages) == paragraph


def test_the_language_of_a_text_is_read_from_its_script() -> None:
    assert language_of("zoneinfo 模块是在哪个 Python 版本加入的？") == "zh"
    assert language_of("What does 你好 mean in English?") == "en"
    assert language_of("Как дела?") == "other"
    assert language_of("こんにちは、元気ですか") == "ja"
    assert language_of("128") == "en"
