"""`python -m benchmarks gpu`: its code path on CPU (`--cpu-smoke`), its note on a machine
without CUDA, and the card table its bandwidth shares come from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import bench_gpu

REPO = Path(__file__).resolve().parents[2]


def test_cpu_smoke_run_measures_every_path_and_they_agree() -> None:
    report = bench_gpu.main(["--cpu-smoke", "--new-tokens", "6", "--streams", "2"])
    assert isinstance(report, str)
    for row in (
        "raw `generate`",
        "own loop, eager, main thread",
        "own loop, static cache, main thread",
        "own loop, CUDA graphs asked (none on CPU), through the API path",
        "2 concurrent users, CUDA graphs asked (none on CPU), API path",
        "time to first token, eager, API path",
    ):
        assert row in report
    assert report.count("same tokens as eager; 0 CUDA graphs captured") == 3
    assert "DIFFERS" not in report
    assert "peak batch 2" in report


@pytest.mark.skipif(torch.cuda.is_available(), reason="the note is for machines without CUDA")
def test_without_cuda_the_runner_notes_it_and_succeeds() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "gpu"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "has none (torch.cuda.is_available() is False): nothing measured" in done.stdout


@pytest.mark.parametrize(
    ("name", "tb_s"),
    [
        ("NVIDIA H100 80GB HBM3", 3.35),
        ("NVIDIA H100 PCIe", 2.0),
        ("NVIDIA H100 NVL", 3.9),
        ("NVIDIA H200", 4.8),
        ("NVIDIA GH200 480GB", 4.0),
        ("NVIDIA A100-SXM4-80GB", 2.039),
        ("NVIDIA A100 80GB PCIe", 1.935),
        ("NVIDIA A100-PCIE-40GB", 1.555),
        ("NVIDIA L4", 0.3),
        ("NVIDIA L40S", 0.864),
        ("A card nobody listed", None),
    ],
)
def test_card_bandwidth_picks_the_most_specific_name(name: str, tb_s: float | None) -> None:
    assert bench_gpu.card_bandwidth(name) == tb_s
