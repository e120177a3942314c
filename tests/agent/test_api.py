"""The Python API the CLI, UI, API server and evaluation share: voice and image input
through the real perception models, async streaming, and the conversation list."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from PIL import Image, ImageDraw, ImageFont

from agent.api import AgentInputError, AskRequest
from agent.events import DoneEvent, PerceptionEvent, StepEvent, TokenEvent
from wiring import search_agent


@pytest.mark.slow
def test_image_question_reads_the_text(offline_settings, tmp_path):
    image = Image.new("RGB", (640, 200), "white")
    ImageDraw.Draw(image).text(
        (40, 60), "EXIT 12", font=ImageFont.load_default(size=72), fill="black"
    )
    path = tmp_path / "sign.png"
    image.save(path)
    with search_agent(offline_settings.replace(chat_max_tokens=48)) as agent:
        events = list(agent.stream(AskRequest("What does the sign say?", image=path, search=False)))
        result = events[-1].result
        turns = agent.turns(result.thread_id)
    assert result.ok and "EXIT 12" in (result.image_text or "")
    assert [e.image_text for e in events if isinstance(e, PerceptionEvent)] == [result.image_text]
    assert next(e.label for e in events if isinstance(e, StepEvent)) == "Reading the image"
    assert turns[0]["image_text"] == result.image_text and turns[0]["image"] == str(path)
    assert "EXIT 12" in turns[0]["model_text"]  # what the text-only model was given


@pytest.mark.slow
def test_voice_question_is_transcribed_and_answered(offline_settings, tmp_path):
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "q.wav"
    subprocess.run([espeak, "-w", str(wav), "What is the capital of France?"], check=True)
    with search_agent(offline_settings.replace(chat_max_tokens=48)) as agent:
        result = agent.invoke(AskRequest("", audio=wav, search=False))
        history = agent.history(result.thread_id)
    assert result.ok and "capital" in (result.transcript or "") and "France" in result.transcript
    assert "Paris" in result.answer
    assert history[0].audio == wav and history[1].content == result.answer


def test_astream_serves_several_conversations_at_once(offline_settings, scripted_agent):
    agent, _ = scripted_agent(
        offline_settings, ["First answer.", "Second answer."], dialect="generic"
    )

    async def ask(thread: str) -> list:
        return [
            event
            async for event in agent.astream(
                AskRequest(f"{thread}?", thread_id=thread, search=False)
            )
        ]

    async def both():
        return await asyncio.gather(ask("one"), ask("two"))

    runs = asyncio.run(both())
    for events in runs:
        assert isinstance(events[-1], DoneEvent) and events[-1].result.ok
        assert (
            "".join(e.text for e in events if isinstance(e, TokenEvent)) == events[-1].result.answer
        )
    assert {r[-1].result.answer for r in runs} == {"First answer.", "Second answer."}
    assert {t.thread_id for t in agent.threads()} == {"one", "two"}


def test_threads_history_and_delete(offline_settings, scripted_agent):
    agent, _ = scripted_agent(offline_settings, ["A1.", "A2.", "B1."], dialect="generic")
    a = agent.invoke(AskRequest("Question A?", search=False))
    agent.invoke(AskRequest("Follow-up A?", search=False, thread_id=a.thread_id))
    b = agent.invoke(AskRequest("Question B?", search=False))
    listed = agent.threads()
    assert [t.thread_id for t in listed] == [b.thread_id, a.thread_id]  # most recent first
    assert listed[1].title == "Question A?" and listed[1].turns == 2
    assert [m.content for m in agent.history(a.thread_id)] == [
        "Question A?",
        "A1.",
        "Follow-up A?",
        "A2.",
    ]
    agent.delete_thread(a.thread_id)
    assert [t.thread_id for t in agent.threads()] == [b.thread_id]
    assert agent.history(a.thread_id) == []


def test_event_json_is_serialisable(offline_settings, scripted_agent):
    import json

    agent, _ = scripted_agent(offline_settings, ["Hello."], dialect="generic")
    for event in agent.stream(AskRequest("Hi?", search=False)):
        data = json.loads(json.dumps(event.to_json()))
        assert data["type"] == event.type
    assert data["type"] == "done" and data["result"]["answer"] == "Hello."


@pytest.mark.parametrize("pages", [0, 21, -3])
def test_pages_out_of_range_is_refused_before_running(offline_settings, scripted_agent, pages):
    agent, model = scripted_agent(offline_settings, ["never asked"])
    with pytest.raises(AgentInputError, match="pages must be between 1 and 20"):
        agent.stream(AskRequest("What is new in Python 3.11?", max_pages=pages))
    assert model.calls == []
