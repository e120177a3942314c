"""The HF-folder path (how Megrez-3B-Instruct runs), proven on stand-ins of its architecture."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.settings import Settings
from runtime import (
    Message,
    Sampling,
    Usage,
    batch_scheduler,
    load_model,
    megrez_format,
)
from runtime.registry import parse_model_spec
from runtime.transformers_backend import TransformersModel


def test_spec_selects_transformers_for_a_folder(smollm2_folder: Path) -> None:
    assert parse_model_spec(str(smollm2_folder)).kind == "transformers"


def test_real_llama_folder_answers(smollm2_folder: Path) -> None:
    model = load_model(Settings(model=str(smollm2_folder)))
    assert model.dialect == "generic"
    usage = Usage()
    text = model.complete(
        [
            Message("system", "You are a helpful assistant."),
            Message("user", "What is the capital of France?"),
        ],
        Sampling(max_tokens=30),
        usage,
    )
    assert "Paris" in text
    assert usage.prompt_tokens > 10 and 0 < usage.completion_tokens <= 30
    choice = model.choose([Message("user", "Say yes or no.")], ["Yes", "No"])
    assert set(choice.scores) == {"Yes", "No"}


def test_megrez_folder_is_megrez_dialect_without_bos(megrez_model: TransformersModel) -> None:
    assert megrez_model.dialect == "megrez"
    messages = [Message("system", "S"), Message("user", "What is 2+2?")]
    ids = megrez_model.prompt_ids(messages)
    tokenizer = megrez_model.tokenizer
    # Token-exact against the model's own chat template, and no BOS in front.
    expected = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert ids == tokenizer(expected, add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids(megrez_format.ROLE_START)
    assert tokenizer.decode(ids) == megrez_format.render_prompt(messages)


def test_turn_end_is_an_explicit_stop(megrez_model: TransformersModel) -> None:
    turn_end = megrez_model.tokenizer.convert_tokens_to_ids(megrez_format.TURN_END)
    assert turn_end in megrez_model._stop_ids
    assert megrez_format.TURN_END in megrez_model.stop_strings()


def test_random_megrez_shaped_model_generates(megrez_model: TransformersModel) -> None:
    usage = Usage()
    megrez_model.complete([Message("user", "Hello")], Sampling(max_tokens=5), usage)
    assert usage.prompt_tokens == len(megrez_model.prompt_ids([Message("user", "Hello")]))
    assert 0 < usage.completion_tokens <= 5
    choice = megrez_model.choose([Message("user", "Hello")], ["Yes", "No thanks"])
    assert set(choice.scores) == {"Yes", "No thanks"}


def test_function_call_tokens_survive_and_turn_end_stops(
    megrez_model: TransformersModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Megrez weights are not here: the token loop picks the ids a real Megrez emits."""
    tokenizer = megrez_model.tokenizer
    call = megrez_format.render_function_call("googleWebSearch", {"query": "lru_cache maxsize"})
    scripted = iter(
        tokenizer(call + megrez_format.TURN_END + "ignored", add_special_tokens=False)["input_ids"]
    )

    def replay(logits: torch.Tensor, rows: list[object]) -> list[int | BaseException]:
        return [next(scripted) for _ in rows]

    monkeypatch.setattr(batch_scheduler, "pick_next", replay)
    usage = Usage()
    text = megrez_model.complete([Message("user", "q")], Sampling(max_tokens=64), usage)
    assert text == call
    assert usage.completion_tokens == len(tokenizer(call, add_special_tokens=False)["input_ids"])
    assert megrez_format.parse_function_call(text) == {
        "name": "googleWebSearch",
        "arguments": {"query": "lru_cache maxsize"},
    }


def test_generation_failure_is_a_model_call_error(
    megrez_model: TransformersModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime import ModelCallError

    def broken_forward(*args: object, **kwargs: object) -> None:
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(megrez_model.model, "forward", broken_forward)
    with pytest.raises(ModelCallError, match="out of memory"):
        megrez_model.complete([Message("user", "another q")], Sampling(max_tokens=4))


def test_folder_without_config_is_rejected(tmp_path: Path) -> None:
    from runtime import ModelLoadError

    with pytest.raises(ModelLoadError, match="config.json"):
        parse_model_spec(str(tmp_path))
