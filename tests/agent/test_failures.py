"""A model that fails or stalls mid-answer ends the turn with a clear message, and the
conversation so far stays in the checkpointer (a new process reading the same SQLite file
sees it). Also: stopping an answer and bad requests (the CLI's side: tests/cli)."""

from __future__ import annotations

import threading

import pytest

from agent.api import AgentInputError, AskRequest
from agent.events import DoneEvent, ErrorEvent, TokenEvent
from runtime import Runtime
from tests.support.scripted import Fail, ScriptedModel, Stall
from wiring import search_agent

FIRST_Q = "What is the capital of France?"
FIRST_A = "The capital of France is Paris."
SECOND_Q = "And what is its population?"


def _reopened_turns(settings, thread_id):
    """The thread as a fresh agent (another process, after a restart) reads it from disk."""
    with search_agent(settings, Runtime(ScriptedModel(), settings)) as reopened:
        return reopened.turns(thread_id), reopened.history(thread_id), reopened.threads()


@pytest.mark.parametrize("dialect", ["megrez", "generic"])
def test_backend_raising_mid_stream(offline_settings, scripted_agent, dialect):
    agent, _ = scripted_agent(
        offline_settings, [FIRST_A, Fail("Paris has about two million")], dialect=dialect
    )
    first = agent.invoke(AskRequest(FIRST_Q, search=False))
    assert first.ok and first.answer == FIRST_A

    events = list(agent.stream(AskRequest(SECOND_Q, thread_id=first.thread_id, search=False)))
    streamed = "".join(e.text for e in events if isinstance(e, TokenEvent))
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    result = events[-1].result
    assert isinstance(events[-1], DoneEvent)
    assert streamed == "Paris has about two million"  # tokens reached the caller before the failure
    assert errors and errors[0].fatal
    assert result.error == "the model failed while answering: CUDA error: device lost"
    assert result.answer == "Paris has about two million"  # the partial answer is kept

    turns, history, threads = _reopened_turns(offline_settings, first.thread_id)
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert [m.content for m in history][:3] == [FIRST_Q, FIRST_A, SECOND_Q]
    assert turns[3]["error"] == result.error
    assert "Paris has about two million" in turns[3]["content"]
    assert "The model stopped with an error" in turns[3]["content"]
    assert [t.thread_id for t in threads] == [first.thread_id]
    assert threads[0].title == FIRST_Q and threads[0].turns == 2


def test_backend_that_stalls_is_given_up(offline_settings, scripted_agent):
    settings = offline_settings.replace(model_stall_timeout_s=0.5)
    stall = Stall("Paris is")
    agent, _ = scripted_agent(settings, [stall], dialect="generic")
    try:
        result = agent.invoke(AskRequest(FIRST_Q, search=False))
    finally:
        stall.release.set()
    assert result.error is not None and "produced nothing for 0.5 s" in result.error
    assert result.answer == "Paris is"
    turns, _, _ = _reopened_turns(settings, result.thread_id)
    assert turns[0]["content"] == FIRST_Q and turns[1]["error"] == result.error


def test_next_turn_after_a_failure_works_and_skips_the_failed_answer(
    offline_settings, scripted_agent
):
    agent, model = scripted_agent(offline_settings, [Fail("half an"), "Paris."], dialect="generic")
    failed = agent.invoke(AskRequest(FIRST_Q, search=False))
    assert failed.error
    again = agent.invoke(AskRequest(FIRST_Q, thread_id=failed.thread_id, search=False))
    assert again.ok and again.answer == "Paris."
    # The failed exchange is not shown to the model as history.
    assert all("half an" not in m.content for m in model.calls[-1].messages)


def test_stopping_keeps_what_was_written(offline_settings, scripted_agent):
    stall = Stall("Paris is the capital and")  # keeps the model "busy" after these tokens
    agent, _ = scripted_agent(offline_settings, [stall], dialect="generic")
    stream = agent.stream(AskRequest(FIRST_Q, search=False, thread_id="t-stop"))
    try:
        for event in stream:
            if isinstance(event, TokenEvent):
                break  # the user pressed stop after the first token
        stream.close()
    finally:
        stall.release.set()
    turns = agent.turns("t-stop")
    assert turns[-1]["role"] == "assistant"
    assert turns[-1]["content"].startswith("Paris")
    assert turns[-1]["error"] is None


def test_stop_by_thread_id(offline_settings, scripted_agent):
    stall = Stall("Paris is")
    agent, _ = scripted_agent(offline_settings, [stall], dialect="generic")
    results = []
    for event in agent.stream(AskRequest(FIRST_Q, search=False, thread_id="t2")):
        if isinstance(event, TokenEvent):
            assert agent.stop("t2")
        if isinstance(event, DoneEvent):
            results.append(event.result)
    stall.release.set()
    assert results[0].stopped and results[0].ok and results[0].answer == "Paris is"
    assert not agent.stop("t2")  # nothing running any more


def test_empty_question_is_refused_before_anything_runs(offline_settings, scripted_agent):
    agent, model = scripted_agent(offline_settings, [])
    with pytest.raises(AgentInputError, match="question is empty"):
        agent.invoke(AskRequest("   "))
    with pytest.raises(AgentInputError, match="image file not found"):
        agent.invoke(
            AskRequest("what is this?", image=offline_settings.store.data_dir / "nope.png")
        )
    assert model.calls == [] and agent.threads() == []


def test_concurrent_threads_are_independent(offline_settings, scripted_agent):
    agent, _ = scripted_agent(offline_settings, ["Answer A.", "Answer B."], dialect="generic")
    results = {}

    def ask(name):
        results[name] = agent.invoke(AskRequest(f"Question {name}?", search=False, thread_id=name))

    workers = [threading.Thread(target=ask, args=(name,)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert {r.answer for r in results.values()} == {"Answer A.", "Answer B."}
    for name in ("a", "b"):
        turns = agent.turns(name)
        assert turns[0]["content"] == f"Question {name}?"
        assert len(turns) == 2
