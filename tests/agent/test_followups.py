"""Follow-up suggestions and taking back the last answer (for regenerate), with a scripted
model: exact, fast."""

from __future__ import annotations

import threading

from agent.api import AskRequest
from agent.followups import parse_followups
from core.settings import Settings
from tests.support.scripted import Busy, Fail


def test_followups_are_three_distinct_new_questions() -> None:
    reply = (
        "Here are some ideas:\n1. What is typed?\n- What is typed?\n* How big can maxsize be?\n"
        "What is lru_cache?\nA statement.\n" + "Why " + "x" * 200 + "?\nWhen was it added?\n"
        "And another?"
    )
    asked = ["What is lru_cache?"]
    assert parse_followups(reply, asked) == [
        "What is typed?",
        "How big can maxsize be?",
        "When was it added?",
    ]


def test_followups_in_markdown_are_kept_as_plain_questions() -> None:
    """A small model bolds or code-quotes its questions: they are still its three questions
    (they were dropped, not ending in "?"), without the marks (chips show text)."""
    reply = (
        "1. **What does `typed` change?**\n- *How is the cache cleared?*\n"
        "Q3: Is `cache_info()` thread-safe?\n"
    )
    assert parse_followups(reply) == [
        "What does typed change?",
        "How is the cache cleared?",
        "Is cache_info() thread-safe?",
    ]


def test_followups_come_from_the_conversation_and_a_failure_gives_none(
    offline_settings: Settings, scripted_agent
) -> None:
    agent, model = scripted_agent(
        offline_settings,
        ["It keeps 128 calls.", "What does typed do?\nHow is it cleared?\nIs it thread-safe?"],
        dialect="generic",
    )
    thread = agent.invoke(AskRequest("What is lru_cache?", search=False)).thread_id
    assert agent.followups(thread) == [
        "What does typed do?",
        "How is it cleared?",
        "Is it thread-safe?",
    ]
    prompt = "\n".join(m.content for m in model.calls[-1].messages)
    assert "What is lru_cache?" in prompt and "It keeps 128 calls." in prompt
    model.outputs.append(Fail("", RuntimeError("device lost")))
    assert agent.followups(thread) == []


def test_a_new_question_never_waits_for_followups_still_being_written(
    offline_settings: Settings, scripted_agent
) -> None:
    """Follow-ups run in the background: the next question's model call ends them."""
    suggestions = Busy("What does typed do?")
    agent, model = scripted_agent(
        offline_settings, ["One.", suggestions, "Two."], dialect="generic"
    )
    model.serial = True  # one call at a time, like llama.cpp: the next question would wait
    thread = agent.invoke(AskRequest("First?", search=False)).thread_id
    found: list[list[str]] = []
    writing = threading.Thread(target=lambda: found.append(agent.followups(thread)))
    writing.start()
    assert suggestions.started.wait(timeout=30)
    second = agent.invoke(AskRequest("Second?", thread_id=thread, search=False))
    writing.join(timeout=30)
    assert second.answer == "Two."
    assert found == [[]]  # given up, not shown after the next question
    assert suggestions.yielded < suggestions.limit  # it stopped once the question came in
    assert len(model.calls) == 3


def test_rewind_takes_back_the_last_question_and_answer(
    offline_settings: Settings, scripted_agent
) -> None:
    agent, _ = scripted_agent(offline_settings, ["One.", "Two.", "Two, again."], dialect="generic")
    thread = agent.invoke(AskRequest("First?", search=False)).thread_id
    agent.invoke(AskRequest("Second?", thread_id=thread, search=False))
    asked = agent.rewind(thread)
    assert asked is not None and asked["content"] == "Second?"
    assert [t["content"] for t in agent.turns(thread)] == ["First?", "One."]
    agent.invoke(AskRequest("Second?", thread_id=thread, search=False))
    assert [t["content"] for t in agent.turns(thread)] == [
        "First?",
        "One.",
        "Second?",
        "Two, again.",
    ]
    assert agent.rewind("no-such-thread") is None
