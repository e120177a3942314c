"""Deep mode end to end over the Python docs on loopback (local: index): the research
subgraph plans sub-questions, researches them in rounds, notes, reflects and writes.

The scripted backend stands in for the model where a test is about the flow (budgets, Stop,
invalid plans, Megrez's protocol); the real embedded model runs the two-hop question.
"""

from __future__ import annotations

import logging
import threading

import pytest

from agent.api import AskRequest, SearchAgent
from agent.deep.notes import number_sources
from agent.events import (
    DoneEvent,
    NoteEvent,
    PlanEvent,
    ReflectEvent,
    ResearchEvent,
    SourcesEvent,
    StepEvent,
)
from agent.state import Context, source_of
from retrieval.types import Passage
from tests.support.scripted import Stall
from wiring import search_agent

#: dev-57 of the shared dev set: getopt.html names argparse, argparse.html says when it came.
TWO_HOP = (
    "The getopt module's docs recommend a different module to users who want less code and "
    "better help and error messages. In which Python version was that recommended module added?"
)
GOLD = ("library/getopt.html", "library/argparse.html")
#: A question that does not split into parts: the generic model is asked for a plan.
UNSPLIT = "Which function does the built-in introduced by PEP 553 call under the hood by default"
DIRECT = "The argparse module was added in Python 3.2."
ICON = "data:image/png;base64,iVBORw0KGgo="


def _read(result, page: str) -> bool:
    return any(item["ok"] and item["url"].endswith(page) for item in result.fetched)


def _run(agent: SearchAgent, question: str, **request) -> tuple[list, object]:
    events = list(agent.stream(AskRequest(question, deep=True, **request)))
    assert isinstance(events[-1], DoneEvent)
    return events, events[-1].result


def test_two_hop_question_follows_the_bridge_and_reads_both_gold_pages(
    docs_settings, scripted_agent
):
    agent, _ = scripted_agent(docs_settings, [DIRECT], dialect="generic")
    events, result = _run(agent, TWO_HOP)
    assert result.ok, result.error
    plans = [e for e in events if isinstance(e, PlanEvent)]
    assert plans[0].round == 1 and len(plans[0].subquestions) >= 2
    assert len(plans) == 2 and plans[1].by == "reflection"  # a second round was planned
    assert any("argparse" in query for query in plans[1].subquestions)
    assert len(set(result.queries)) > 2
    assert all(_read(result, page) for page in GOLD), result.fetched
    # Pages are shared across sub-questions: each URL was fetched once.
    urls = [item["url"] for item in result.fetched]
    assert len(urls) == len(set(urls))
    # Notes and the answer cite one numbered source list, checked like any answer.
    assert [e for e in events if isinstance(e, NoteEvent) and e.note]
    assert result.answer.startswith(DIRECT.rstrip("."))
    assert "3.2" in result.answer and result.citations
    assert set(result.citations) <= {s["n"] for s in result.sources}
    assert result.research["rounds"] == 2 and result.research["cut"] is None
    assert [e for e in events if isinstance(e, ResearchEvent) and e.round == 2]
    # Its source cards are a quick answer's: the site's name beside a title without it.
    shown = [e for e in events if isinstance(e, SourcesEvent)][-1].sources
    for source in (*result.sources, *shown):
        assert source["site"] == "Python 3.11.2 documentation", source
        assert "documentation" not in source["title"] and source["snippet"], source


def test_deep_sources_carry_their_site_and_its_icon() -> None:
    url = "http://docs.test/library/getopt.html"
    title = "getopt — C-style parser for command line options — Python 3.11.2 documentation"
    contexts: list[Context] = []
    numbers = number_sources(contexts, [Passage("Use argparse instead.", url, title)], {url: ICON})
    assert numbers == {url: 1}
    assert contexts == [
        {
            "n": 1,
            "url": url,
            "title": "getopt — C-style parser for command line options",
            "text": "Use argparse instead.",
            "site": "Python 3.11.2 documentation",
            "icon": ICON,
        }
    ]
    assert source_of(contexts[0])["icon"] == ICON


def test_round_limit_holds_and_the_answer_says_so(docs_settings, scripted_agent):
    settings = docs_settings.replace(deep_max_rounds=1)
    agent, _ = scripted_agent(settings, [DIRECT], dialect="generic")
    events, result = _run(agent, TWO_HOP)
    assert {e.round for e in events if isinstance(e, ResearchEvent)} == {1}
    reflect = [e for e in events if isinstance(e, ReflectEvent)][-1]
    assert reflect.cut == "rounds" and reflect.queries  # something was still open
    assert result.research["cut"] == "rounds"
    assert "round limit" in result.answer
    assert not _read(result, "library/argparse.html")


def test_time_budget_holds_and_the_answer_says_so(docs_settings, scripted_agent):
    settings = docs_settings.replace(deep_time_budget_s=0.001)
    agent, _ = scripted_agent(settings, [DIRECT], dialect="generic")
    events, result = _run(agent, TWO_HOP)
    assert {e.round for e in events if isinstance(e, ResearchEvent)} == {1}
    assert result.research["cut"] == "time"
    assert "time budget" in result.answer
    assert result.sources  # what the first round found is kept


def test_no_model_call_starts_once_the_time_budget_is_spent(docs_settings, scripted_agent):
    """Neither the plan nor the reflection asks the model after the budget: only the answer.

    The old agent planned and reflected with the model regardless (a reflection started with
    the budget spent ran 8 s research to 12.9 s)."""
    settings = docs_settings.replace(deep_time_budget_s=1e-9)
    agent, model = scripted_agent(settings, [DIRECT], dialect="megrez")
    events, result = _run(agent, TWO_HOP)
    assert result.ok, result.error
    assert next(e for e in events if isinstance(e, PlanEvent)).by == "fallback"
    assert result.research["cut"] == "time"
    assert len(model.calls) == 1 and result.answer.startswith(DIRECT.rstrip("."))


def test_a_model_call_gets_only_the_time_left(docs_settings, scripted_agent, caplog):
    """A plan call that stalls is given up when the budget is spent, not at the stall timeout;
    the research goes on with the question's own parts and no reflection call is made."""
    stall = Stall('<|function_start|>{"name": "googleWebSearch", "arguments": {"query": "get')
    settings = docs_settings.replace(deep_time_budget_s=1.0, model_stall_timeout_s=30.0)
    agent, model = scripted_agent(settings, [stall, DIRECT], dialect="megrez")
    try:
        with caplog.at_level(logging.INFO, logger="agent"):
            events, result = _run(agent, TWO_HOP)
    finally:
        stall.release.set()
    assert result.ok, result.error
    assert "generation ended at its time limit" in caplog.text
    assert "produced nothing" not in caplog.text
    assert next(e for e in events if isinstance(e, PlanEvent)).by == "fallback"
    assert result.research["cut"] == "time"
    assert len(model.calls) == 2  # the plan and the answer: no reflection after the budget


def test_stop_mid_research_keeps_what_was_found(docs_settings, scripted_agent):
    agent, model = scripted_agent(docs_settings, [], dialect="generic")  # never asked to write
    cancel = threading.Event()
    events = []
    for event in agent.stream(AskRequest(TWO_HOP, deep=True), cancel=cancel):
        events.append(event)
        if isinstance(event, ResearchEvent):
            cancel.set()  # the user presses Stop while the first round is being read
    result = events[-1].result
    assert result.stopped and result.research["cut"] == "stopped"
    assert result.sources and result.citations  # the notes found so far, with their sources
    assert "stopped" in result.answer
    assert not [e for e in events if isinstance(e, ResearchEvent) and e.round == 2]
    assert not [e for e in events if isinstance(e, StepEvent) and e.step == "deep_write"]
    assert not [call for call in model.calls if call.sampling is not None]  # no generation


@pytest.mark.parametrize("plan", ["not json at all", '["x", 3]', '{"plan": 1}', "[]"])
def test_invalid_generic_plan_falls_back_to_the_question(docs_settings, scripted_agent, plan):
    agent, model = scripted_agent(
        docs_settings, [plan, "breakpoint() calls it."], dialect="generic"
    )
    events, result = _run(agent, UNSPLIT)
    assert result.ok, result.error
    first = next(e for e in events if isinstance(e, PlanEvent))
    assert first.by == "fallback" and first.subquestions == [UNSPLIT]
    assert model.calls[0].sampling.grammar  # the plan was asked for under a JSON grammar
    assert result.sources


def test_generic_model_plan_adds_its_usable_sub_questions(docs_settings, scripted_agent):
    plan = '["PEP 553 built-in breakpoint", "' + UNSPLIT + '", "hello there"]'
    agent, _ = scripted_agent(docs_settings, [plan, "It calls sys.breakpointhook()."], "generic")
    events, _result = _run(agent, UNSPLIT)
    first = next(e for e in events if isinstance(e, PlanEvent))
    assert first.by == "model"
    assert first.subquestions == [UNSPLIT, "PEP 553 built-in breakpoint"]  # copy and chat dropped


def _call(query: str) -> str:
    return (
        '<|function_start|>{"name": "googleWebSearch", "arguments": {"query": "'
        + query
        + '"}}<|function_end|>'
    )


def test_megrez_plans_and_reflects_with_its_function_calls(docs_settings, scripted_agent):
    outputs = [
        _call("getopt module recommended alternative") + _call("argparse new in version"),
        _call("argparse module added version"),  # reflection: one more search
        "argparse was added in Python 3.2.[citation:1]",
    ]
    settings = docs_settings.replace(deep_max_rounds=2)
    agent, model = scripted_agent(settings, outputs, dialect="megrez")
    events, result = _run(agent, TWO_HOP)
    assert result.ok, result.error
    plans = [e for e in events if isinstance(e, PlanEvent)]
    assert plans[0].by == "model" and len(plans[0].subquestions) >= 3
    assert "argparse module added version" in result.queries
    assert all(_read(result, page) for page in GOLD)
    assert "googleWebSearch" in model.calls[0].messages[0].content  # its own protocol
    assert not model.outputs  # plan, reflection and answer each used the model once


def test_megrez_invalid_plan_falls_back(docs_settings, scripted_agent):
    outputs = ['<|function_start|>{"name": "googleWebSearch", "arguments": {', "enough", "Done."]
    agent, _ = scripted_agent(docs_settings, outputs, dialect="megrez")
    events, result = _run(agent, TWO_HOP)
    assert result.ok, result.error
    assert next(e for e in events if isinstance(e, PlanEvent)).by == "fallback"
    reflect = [e for e in events if isinstance(e, ReflectEvent)]
    assert reflect[0].done and not reflect[0].queries  # Megrez said "enough"


#: dev-60: whatsnew/3.9.html names graphlib, graphlib.html names the exception.
GRAPHLIB = (
    "Python 3.9 added a new standard-library module for topologically sorting a graph. "
    "Which exception does it raise when the graph contains a cycle?"
)


@pytest.mark.slow
def test_embedded_model_answers_a_two_hop_question_in_deep_mode(docs_settings):
    with search_agent(docs_settings) as agent:
        _, result = _run(agent, GRAPHLIB)
    assert result.ok, result.error
    assert len(set(result.queries)) > 1
    assert all(_read(result, page) for page in ("whatsnew/3.9.html", "library/graphlib.html"))
    assert "CycleError" in result.answer
    cited = {s["url"] for s in result.sources if s["n"] in result.citations}
    assert any(url.endswith("library/graphlib.html") for url in cited)
