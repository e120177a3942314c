"""The Megrez-3B-Omni path (`omni:PATH`), proven on a stand-in with Omni's remote-code API.

The stand-in (tests/runtime/standins.py) is SmolLM2 saved under Omni's class name `MegrezO`
with a `chat(input_msgs, sampling=..., max_new_tokens=..., streamer=...)` method in the
folder's own Python file, loaded through `trust_remote_code` like the real model. Its output
ends in `<|turn_end|>` as Megrez's does. What it cannot show is the real model's vision and
speech quality.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from agent.api import AskRequest
from core.settings import Settings
from runtime import Message, Sampling, Usage, load_model, megrez_format
from runtime.omni import OmniModel
from runtime.registry import parse_model_spec
from tests.runtime.standins import save_omni_shaped_model
from wiring import search_agent

pytestmark = pytest.mark.slow

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def omni_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_omni_shaped_model(tmp_path_factory.mktemp("omni-standin"))


@pytest.fixture(scope="module")
def omni_settings(omni_folder: Path, settings: Settings) -> Settings:
    return settings.replace(model=f"omni:{omni_folder}")


@pytest.fixture(scope="module")
def omni(omni_settings: Settings) -> OmniModel:
    model = load_model(omni_settings)
    assert isinstance(model, OmniModel)
    return model


def received(model: OmniModel) -> list[list[dict[str, Any]]]:
    """Every `input_msgs` the stand-in's `chat` was called with, oldest first."""
    return type(model.model).received  # type: ignore[no-any-return]


def test_spec_loads_the_remote_code_class(omni: OmniModel, omni_folder: Path) -> None:
    assert parse_model_spec(f"omni:{omni_folder}").kind == "omni"
    assert type(omni.model).__name__ == "MegrezO"  # the folder's own code, not LlamaForCausalLM
    assert omni.dialect == "megrez" and {"image", "audio"} <= omni.modalities


def test_streams_an_answer_and_stops_at_turn_end(omni: OmniModel) -> None:
    usage = Usage()
    chunks = list(omni.stream([Message("user", QUESTION)], Sampling(max_tokens=30), usage))
    text = "".join(chunks)
    assert "Paris" in text
    assert megrez_format.TURN_END not in text and "<|" not in text
    assert len(chunks) > 1  # streamed, not one block
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 30


def test_attachments_reach_chat_as_paths_and_only_the_first_image(
    omni: OmniModel, sign_image: Path, spoken_question: Path
) -> None:
    history = [
        Message("user", "What does the sign say?", image=sign_image),
        Message("assistant", "It says STOP AHEAD."),
        Message(
            "user",
            "And this one? Answer my voice question too.",
            image=sign_image,
            audio=spoken_question,
        ),
    ]
    omni.complete(history, Sampling(max_tokens=8))
    first, _, last = received(omni)[-1]
    assert first["content"] == {"text": "What does the sign say?", "image": str(sign_image)}
    # The card allows an image only in the first round; voice may come in any round.
    assert "image" not in last["content"]
    assert last["content"]["audio"] == str(spoken_question)


def test_concurrent_requests_get_their_own_streams(omni: OmniModel) -> None:
    """The upstream demo shares one streamer between requests and mixes users' answers;
    here each request has its own, so two at once read exactly what each reads alone."""
    questions = [QUESTION, "What is the largest planet in the solar system?"]
    sampling = Sampling(max_tokens=24)
    alone = ["".join(omni.stream([Message("user", q)], sampling)) for q in questions]
    together: dict[int, str] = {}

    def ask(index: int) -> None:
        together[index] = "".join(omni.stream([Message("user", questions[index])], sampling))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [together[i] for i in range(len(questions))] == alone
    assert alone[0] != alone[1]


def test_agent_sends_the_image_itself_to_omni(
    omni: OmniModel, omni_settings: Settings, sign_image: Path
) -> None:
    """Through the whole agent: Omni gets the picture (natively multimodal), while the user
    still sees what OCR read from it."""
    agent = search_agent(omni_settings)
    try:
        result = agent.invoke(AskRequest("What does the sign say?", search=False, image=sign_image))
    finally:
        agent.close()
    assert result.answer and not result.searched
    assert result.image_text and "STOP AHEAD" in result.image_text
    user_turns = [m for m in received(omni)[-1] if m["role"] == "user"]
    assert user_turns[-1]["content"]["image"] == str(sign_image)
