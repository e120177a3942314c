"""A question in Chinese over English pages: searched in English and in the user's own words,
answered in Chinese with citations, and the agent's own messages in Chinese too.

The queries are read off a SearXNG-shaped search engine on loopback (tests/support); the
Megrez dialect's answer is scripted (its text is asserted), the generic dialect's runs on
the real tiny model (only what the agent does around it is asserted).
"""

from __future__ import annotations

import json

import pytest

from agent.api import AskRequest
from agent.events import QueryEvent
from agent.prompts import template
from agent.translation import (
    MAX_EARLIER_ANSWER_CHARS,
    answer_lead,
    example_names,
    keywords_in_sources_language,
    translation_prompt,
)
from core.settings import Settings
from retrieval.scripts import has_cjk, language_of
from runtime import Message
from tests.support.docs_index import ALLOW_HOSTS, TEST_MODEL
from tests.support.search_engine import SearchEngine, serve_search_engine
from tests.support.servers import free_port
from wiring import search_agent

QUESTION = "zoneinfo 模块是在哪个 Python 版本加入的？"
MEGREZ_QUERY = "zoneinfo 模块 Python 版本"  # Megrez writes its query in the question's language
TRANSLATION = "zoneinfo module added Python version"
PAGE = (
    "<html lang='en'><head><title>zoneinfo — IANA time zone support</title></head><body>"
    "<article><h1>zoneinfo — IANA time zone support</h1>"
    "<p>New in version 3.9.</p>"
    "<p>The zoneinfo module provides a concrete time zone implementation to support the IANA "
    "time zone database as originally specified in PEP 615.</p></article></body></html>"
)


def search_call(query: str) -> str:
    arguments = json.dumps({"query": query}, ensure_ascii=False)
    return (
        f'<|function_start|>{{"name": "googleWebSearch", "arguments": {arguments}}}<|function_end|>'
    )


@pytest.fixture
def engine():
    with serve_search_engine({"/zoneinfo.html": ("zoneinfo — IANA time zone support", PAGE)}) as e:
        yield e


def settings_for(engine: SearchEngine, tmp_path, **update) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        model=TEST_MODEL,
        search=f"searxng:{engine.base_url}",
        allow_hosts=ALLOW_HOSTS,
        **update,
    )


def test_megrez_searches_in_english_and_in_chinese_and_answers_in_chinese(
    engine, tmp_path, scripted_agent
):
    answer = "zoneinfo 模块是在 Python 3.9 中加入的 [citation:1]。"
    agent, model = scripted_agent(
        settings_for(engine, tmp_path), [search_call(MEGREZ_QUERY), TRANSLATION, answer]
    )
    events = list(agent.stream(AskRequest(QUESTION)))
    result = events[-1].result

    # The model's own query was in Chinese: its keywords were translated under a grammar.
    assert model.calls[1].sampling.grammar and QUESTION in model.calls[1].messages[-1].content
    assert [e.query for e in events if isinstance(e, QueryEvent)] == [TRANSLATION]
    # Searched in English and in the user's own words, results fused.
    assert TRANSLATION in engine.queries
    assert any(has_cjk(q) and "zoneinfo" in q for q in engine.queries)
    # The answer step asked for Chinese, and the Chinese answer kept its citation.
    assert "请用中文回答" in model.calls[2].messages[-1].content
    assert result.answer == "zoneinfo 模块是在 Python 3.9 中加入的 [1]。"
    assert result.citations == [1] and language_of(result.answer) == "zh"


def test_an_english_query_from_megrez_is_not_translated_again(engine, tmp_path, scripted_agent):
    answer = "zoneinfo 模块是在 Python 3.9 中加入的 [citation:1]。"
    agent, model = scripted_agent(
        settings_for(engine, tmp_path), [search_call(TRANSLATION), answer]
    )
    result = agent.invoke(AskRequest(QUESTION))
    assert len(model.calls) == 2 and result.queries == [TRANSLATION]
    assert any(has_cjk(q) for q in engine.queries)


def test_the_agents_own_messages_are_in_the_questions_language(tmp_path, scripted_agent):
    settings = Settings(
        data_dir=tmp_path / "data",
        model=TEST_MODEL,
        search=f"searxng:http://127.0.0.1:{free_port()}",  # nobody listens: the search fails
    )
    agent, _model = scripted_agent(settings, [search_call(MEGREZ_QUERY), TRANSLATION])
    result = agent.invoke(AskRequest(QUESTION))
    assert result.answer.startswith(f"我搜索了“{TRANSLATION}”，但搜索失败")
    assert "local:NAME" in result.answer and "I searched" not in result.answer


def test_sources_that_dont_say_are_reported_in_chinese(engine, tmp_path, scripted_agent):
    invented = "The zoneinfo module was written by Guido van Rossum in a Dutch pub in 1989."
    agent, _model = scripted_agent(
        settings_for(engine, tmp_path), [search_call(TRANSLATION), invented]
    )
    result = agent.invoke(AskRequest(QUESTION))
    assert result.answer.startswith("我找到的来源没有给出答案。")
    assert "[1] zoneinfo — IANA time zone support" in result.answer and result.citations == []


@pytest.mark.slow
def test_tiny_model_searches_a_chinese_question_in_english_too(engine, tmp_path):
    settings = settings_for(engine, tmp_path, decide_bias=50.0, answer_max_tokens=48)
    with search_agent(settings) as agent:
        result = agent.invoke(AskRequest(QUESTION))
    assert result.ok and result.searched
    # The grammar-forced translation is Latin text that keeps the technical names...
    (query,) = result.queries
    assert language_of(query) == "en" and not has_cjk(query) and "zoneinfo" in query
    # ...and both it and the user's own words were searched.
    assert query in engine.queries and any(has_cjk(q) for q in engine.queries)
    assert [s["title"] for s in result.sources] == ["zoneinfo — IANA time zone support"]
    assert result.answer


EARLIER = "Python 的 decimal 模块是做什么用的？"
FOLLOW_UP = "它默认使用多少位有效数字？"


def test_a_follow_up_is_translated_with_the_question_it_refers_to(engine, tmp_path, scripted_agent):
    history = [Message("user", EARLIER), Message("assistant", "decimal 模块提供十进制浮点运算。")]
    agent, model = scripted_agent(
        settings_for(engine, tmp_path),
        [search_call("有效数字 默认"), "decimal default precision significant digits", "28 位。"],
    )
    result = agent.invoke(AskRequest(FOLLOW_UP, history=history))
    # "它" has no subject to translate: the model is shown the earlier question's.
    translation = model.calls[1]
    assert translation.sampling.grammar
    # And the opening of its answer, whose terms ("精度": precision) the pages use.
    asked = translation.messages[-1].content
    assert asked == (
        f"Earlier question: {EARLIER}\nEarlier answer: decimal 模块提供十进制浮点运算。\n"
        f"Question: {FOLLOW_UP}"
    )
    assert result.queries[0].startswith("decimal default precision")


def test_a_translation_is_shown_the_opening_of_a_long_earlier_answer_without_its_marks():
    answer = "decimal 模块提供十进制浮点运算 [1]，精度可以由上下文设置。" + "它适合货币计算。" * 30
    prompt = translation_prompt(FOLLOW_UP, EARLIER, answer_lead(answer))
    shown = prompt.split("Earlier answer: ")[1].split("\n")[0]
    assert shown.startswith("decimal 模块提供十进制浮点运算，精度可以由上下文设置。")
    assert "[1]" not in shown and shown.endswith("。")
    assert len(shown) <= MAX_EARLIER_ANSWER_CHARS


def test_an_example_of_the_prompt_copied_into_a_translation_is_dropped():
    # With nothing to translate, a small model copied the prompt's example into the query
    # ("Eiffel Tower default decimal places"), then ran several examples together.
    assert example_names() >= {"mount", "everest", "curl"}
    copied = keywords_in_sources_language(
        FOLLOW_UP, "Mount Everest default decimal places", 8, context=EARLIER
    )
    assert copied == "default decimal places"
    merged = "default maximum redirects latest measured elevation metersVec Python decimal"
    assert keywords_in_sources_language(FOLLOW_UP, merged, 8, context=EARLIER) is None
    # A question that names the example's subject keeps it.
    asked = "Mount Everest 有多高？"
    assert keywords_in_sources_language(asked, "Mount Everest height", 8) == "Mount Everest height"


def test_the_translation_examples_are_turns_of_their_own(engine, tmp_path, scripted_agent):
    agent, model = scripted_agent(
        settings_for(engine, tmp_path), [search_call(MEGREZ_QUERY), TRANSLATION, "3.9 [citation:1]"]
    )
    agent.invoke(AskRequest(QUESTION))
    system, *turns, asked = model.calls[1].messages
    assert system.role == "system" and len(turns) >= 6
    assert [m.role for m in turns] == ["user", "assistant"] * (len(turns) // 2)
    assert asked.content == f"Question: {QUESTION}"


def test_deep_mode_searches_its_sub_questions_in_english_too(engine, tmp_path, scripted_agent):
    answer = "zoneinfo 模块是在 Python 3.9 中加入的 [citation:1]。"
    script = iter([search_call(MEGREZ_QUERY), "enough", answer])

    def reply(messages: list[Message]) -> str:
        translating = messages[0].content == template("common", "translate_query_system")
        return TRANSLATION if translating else next(script)

    agent, model = scripted_agent(settings_for(engine, tmp_path), [reply] * 12)
    result = agent.invoke(AskRequest(QUESTION, deep=True))
    assert result.ok, result.error
    # Every sub-question in Chinese got its English keywords, searched beside its own words.
    assert TRANSLATION in result.queries and TRANSLATION in engine.queries
    assert any(has_cjk(q) and "zoneinfo" in q for q in engine.queries)
    # The direct answer was asked for in Chinese.
    assert any("请用中文回答" in m.content for m in model.calls[-1].messages)
    assert result.answer.startswith("zoneinfo 模块是在 Python 3.9 中加入的")
