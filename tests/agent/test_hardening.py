"""Regressions of the hostile probe (issue 15) at the agent's Python API, over the scripted
model and real loopback servers."""

from __future__ import annotations

import multiprocessing
import wave
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from agent.api import AgentInputError, AskRequest, ThreadBusyError
from agent.events import ErrorEvent
from agent.nodes.perceive import NO_SPEECH
from core.settings import Settings
from retrieval.search import ProviderNotOfferedError
from runtime import audio as audio_module
from runtime.base import InputError
from runtime.perception import probe_audio, speech
from tests.support.api_server import ANSWER, hold_a_turn
from tests.support.api_server import scripted_agent as answering_agent
from tests.support.servers import send, serve_routes


def test_a_request_cannot_bring_its_own_searxng_url(offline_settings, scripted_agent):
    """Item 1: the old agent built `searxng:URL` from the request and GET the URL."""
    hits: list[str] = []

    def internal_admin(handler: BaseHTTPRequestHandler) -> None:
        hits.append(handler.path)
        send(handler, b'{"results": []}', content_type="application/json")

    agent, model = scripted_agent(offline_settings, ["never used"], dialect="generic")
    with (
        serve_routes({"/internal-admin/search": internal_admin}) as base,
        pytest.raises(ProviderNotOfferedError, match="choose from: local:none"),
    ):
        agent.stream(AskRequest("q?", provider=f"searxng:{base}/internal-admin"))
    assert hits == [] and model.calls == [] and agent.threads() == []


def _holder(data_dir: Path) -> tuple[Any, Any, Any]:
    context = multiprocessing.get_context("spawn")
    started, release = context.Event(), context.Event()
    process = context.Process(
        target=hold_a_turn, args=(str(data_dir), "shared", started, release), daemon=True
    )
    process.start()
    assert started.wait(120), "the holding process did not start its turn"
    return process, started, release


def test_a_second_process_is_told_busy_or_waits_never_overwrites(tmp_path):
    """Item 2: the old per-process lock let a second process write the conversation while
    the first was mid-answer; the first then overwrote it (index 2 turns, conversation 1)."""
    data_dir = tmp_path / "data"
    process, _, release = _holder(data_dir)
    try:
        impatient = Settings(data_dir=data_dir, search="local:none", turn_wait_s=0)
        agent, model = answering_agent(impatient)
        with pytest.raises(ThreadBusyError, match="busy"):
            agent.invoke(AskRequest("Second?", thread_id="shared", search=False))
        assert model.calls == []
        agent.close()

        patient = impatient.replace(turn_wait_s=120.0)
        agent, model = answering_agent(patient)
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(
                agent.invoke, AskRequest("Third?", thread_id="shared", search=False)
            )
            release.set()
            result = waiting.result(timeout=120)
        assert result.ok and result.answer == ANSWER
    finally:
        release.set()
        process.join(timeout=60)
    turns = agent.turns("shared")
    (info,) = agent.threads()
    agent.close()
    assert [t["content"] for t in turns if t["role"] == "user"] == ["Held question?", "Third?"]
    assert info.turns == 2 and len(turns) == 4


def test_a_killed_writer_does_not_block_its_conversation(tmp_path):
    data_dir = tmp_path / "data"
    process, _, _ = _holder(data_dir)
    process.kill()  # kill -9 mid-answer
    process.join(timeout=60)
    settings = Settings(data_dir=data_dir, search="local:none", turn_wait_s=0)
    agent, _ = answering_agent(settings)
    with agent:
        result = agent.invoke(AskRequest("After the crash?", thread_id="shared", search=False))
    assert result.ok and result.answer == ANSWER


@pytest.mark.parametrize("question", ["bad \ud800 text", "nul\x00byte"])
def test_unstorable_text_is_refused_before_anything_runs(offline_settings, question):
    """Item 4 at the agent (the UI's path): the old agent crashed with UnicodeEncodeError."""
    agent, model = answering_agent(offline_settings)
    with agent, pytest.raises(AgentInputError, match="cannot be stored"):
        agent.stream(AskRequest(question, search=False))
    assert model.calls == []


def test_a_stateless_turn_leaves_nothing(offline_settings):
    agent, _ = answering_agent(offline_settings)
    with agent:
        result = agent.invoke(AskRequest("Hi?", search=False, keep=False))
        assert result.answer == ANSWER and agent.threads() == []
        assert agent.turns(result.thread_id) == []


def _silent_wav(path: Path, seconds: int) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(b"\0\0" * 16_000 * seconds)
    return path


def test_silence_is_no_speech_found_at_once(offline_settings, tmp_path, monkeypatch):
    """Item 9: a silent clip and no text used to be answered ("Today is ..."); now it is
    'no speech found' without Whisper or the model."""

    def no_whisper(settings: Settings) -> None:
        raise AssertionError("Whisper must not load for silence")

    monkeypatch.setattr(speech, "_whisper", no_whisper)
    wav = _silent_wav(tmp_path / "silence.wav", 180)  # three minutes
    agent, model = answering_agent(offline_settings)
    with agent:
        events = list(agent.stream(AskRequest("", audio=wav, search=False)))
        result = events[-1].result
        turns = agent.turns(result.thread_id)
    assert result.error == NO_SPEECH and result.answer == "" and result.transcript == ""
    assert model.calls == []
    assert any(isinstance(e, ErrorEvent) and e.message == NO_SPEECH for e in events)
    assert [t["role"] for t in turns] == ["user", "assistant"]  # recorded, consistent


def test_long_audio_is_refused_while_decoding_in_bounded_memory(tmp_path, monkeypatch):
    """Over MEGREZ_MAX_AUDIO_S is refused from the header, and, for a container that does
    not declare its length, decoding stops at the limit instead of reading everything."""
    wav = _silent_wav(tmp_path / "long.wav", 120)
    settings = Settings(data_dir=tmp_path, max_audio_s=60)
    with pytest.raises(InputError, match="more than the 60 s allowed"):
        probe_audio(wav, settings.runtime)
    monkeypatch.setattr(audio_module, "probe_audio", lambda path, settings: None)
    with pytest.raises(InputError, match=r"is 6\d s long, more than the 60 s allowed"):
        audio_module.decode_audio(wav, settings.runtime)
    whole = audio_module.decode_audio(wav, settings.replace(max_audio_s=600).runtime)
    assert len(whole) == 120 * 16_000 and audio_module.is_silent(whole)
