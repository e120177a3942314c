"""One agent per process: the model is a field of the request, among the configured ones; each
model's runtime is loaded once, on first use, and all share the agent's conversations."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from agent.api import AgentInputError, AskRequest, SearchAgent
from core.settings import Settings
from runtime import Runtime
from tests.support.scripted import ScriptedModel, Stall
from wiring import search_agent


def two_model_agent(
    settings: Settings, default: ScriptedModel, second: ScriptedModel
) -> tuple[SearchAgent, list[str]]:
    """An agent over `default` (MEGREZ_MODEL) and `second` (in MEGREZ_MODELS); the list
    records each runtime load by model spec."""
    settings = settings.replace(models=f"{settings.runtime.model},second")
    loads: list[str] = []

    def load(named: Settings) -> Runtime:
        loads.append(named.runtime.model)
        return Runtime(second, named)

    return search_agent(settings, Runtime(default, settings), load=load), loads


def test_a_request_picks_its_model_and_one_chat_may_change_model(offline_settings) -> None:
    default = ScriptedModel(["From the default."], dialect="generic")
    second = ScriptedModel(["From the second.", "Second again."], dialect="generic")
    agent, loads = two_model_agent(offline_settings, default, second)
    with agent:
        first = agent.invoke(AskRequest("One?", thread_id="t", search=False))
        other = agent.invoke(AskRequest("Two?", thread_id="t", search=False, model="second"))
        again = agent.invoke(AskRequest("Three?", thread_id="t", search=False, model="second"))
        turns = agent.turns("t")
    assert (first.answer, other.answer, again.answer) == (
        "From the default.",
        "From the second.",
        "Second again.",
    )
    assert loads == ["second"]  # loaded on first use, once
    assert [t["content"] for t in turns if t["role"] == "assistant"] == [
        "From the default.",
        "From the second.",
        "Second again.",
    ]
    # The second model was given the whole conversation, the default model's answer included.
    assert "From the default." in " ".join(m.content for m in second.calls[0].messages)


def test_a_model_that_is_not_configured_is_refused_before_anything_runs(offline_settings):
    default = ScriptedModel(["Never."], dialect="generic")
    agent, loads = two_model_agent(offline_settings, default, ScriptedModel())
    with agent:
        with pytest.raises(AgentInputError, match="no such model: '/tmp/evil.gguf'"):
            agent.stream(AskRequest("Hi?", search=False, model="/tmp/evil.gguf"))
        assert loads == [] and default.calls == [] and agent.threads() == []


def test_two_first_requests_for_a_model_load_it_once(offline_settings) -> None:
    second = ScriptedModel(["A.", "B."], dialect="generic")
    agent, loads = two_model_agent(offline_settings, ScriptedModel(), second)
    with agent, ThreadPoolExecutor(2) as pool:
        asked = [
            pool.submit(agent.invoke, AskRequest(f"{n}?", search=False, model="second"))
            for n in ("One", "Two")
        ]
        answers = sorted(future.result().answer for future in asked)
    assert answers == ["A.", "B."] and loads == ["second"]


def test_stop_reaches_a_turn_of_the_second_model(offline_settings) -> None:
    release = threading.Event()
    second = ScriptedModel([Stall("Partial", release)], dialect="generic")
    agent, _ = two_model_agent(offline_settings, ScriptedModel(), second)
    with agent:
        events = agent.stream(AskRequest("Long?", thread_id="s", search=False, model="second"))
        for event in events:
            if getattr(event, "text", None) == "Partial":
                break
        assert agent.is_running("s") and agent.stop("s")
        release.set()
        result = list(events)[-1].result
    assert result.answer == "Partial" and result.stopped
