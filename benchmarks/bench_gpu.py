"""The in-process transformers runtime on a GPU, against the card's memory-bandwidth limit.

Builds a LLaMA with Megrez-3B-Instruct's published dimensions (vocab 122880, hidden 2560,
intermediate 7168, 32 layers, 40 heads / 10 KV heads, rope_theta 5e6, untied embeddings),
random bf16 weights, and a word-level tokenizer over the same vocabulary that carries Megrez's
special tokens and chat template: nothing is downloaded. It is saved as an HF folder and
loaded through `load_model` as a real folder would be. Then, in one run, single-stream greedy
decode of: raw `model.generate`; our token loop on the eager path; on the static cache; with
CUDA graphs; each from the main thread and, for ours, through the API path (the agent's
`generate`, called from a request thread as the server's handlers call it); 16 concurrent
users through the API path; time to first token. Every rate is also a share of the card's
limit: a decode step must read every weight but the input embedding once, and each row's
KV cache, so `rows x bandwidth / (weight bytes + rows x KV bytes per token x context)`. The
card is read from `torch.cuda.get_device_name()`; `BANDWIDTH_TB_S` holds the figures.

    python -m benchmarks gpu                  # on a CUDA machine (exits with a note elsewhere)
    python -m benchmarks gpu --cpu-smoke      # the same code path on CPU at tiny dims (tested)
    python -m benchmarks.bench_gpu [--prompt-tokens N] [--new-tokens N] [--streams N]
        [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agent.generation import generate
from benchmarks.megrez_shaped import MEGREZ_3B, TINY, build_folder, prompt_messages
from core.settings import Settings
from runtime import Message, Runtime, Sampling, Usage, load_model
from runtime.batch_scheduler import BatchScheduler
from runtime.transformers_backend import TransformersModel

#: Memory bandwidth in TB/s by a piece of the card's name; the first piece found wins, so a
#: more specific name comes before a shorter one it contains.
BANDWIDTH_TB_S: tuple[tuple[str, float], ...] = (
    ("GH200", 4.0),
    ("H200", 4.8),
    ("H100 NVL", 3.9),
    ("H100 PCIe", 2.0),
    ("H100", 3.35),  # the SXM card reports itself as "NVIDIA H100 80GB HBM3"
    ("B200", 8.0),
    ("A100-SXM4-80GB", 2.039),
    ("A100 80GB PCIe", 1.935),
    ("A100", 1.555),  # the 40 GB cards
    ("L40S", 0.864),
    ("L40", 0.864),
    ("A10G", 0.6),
    ("A10", 0.6),
    ("L4", 0.3),
    ("RTX 4090", 1.008),
    ("V100", 0.9),
    ("T4", 0.32),
)
NO_CUDA = (
    "bench_gpu measures the runtime on a CUDA GPU and this machine has none "
    "(torch.cuda.is_available() is False): nothing measured. Run it on a GPU machine, or "
    "`python -m benchmarks gpu --cpu-smoke` to exercise the code path on CPU."
)


def card_bandwidth(name: str) -> float | None:
    """TB/s of the card called `name`, or None for a card not in the table."""
    return next((tb_s for piece, tb_s in BANDWIDTH_TB_S if piece in name), None)


@dataclass(frozen=True)
class Limit:
    """How fast decoding could go if a step took only the time to read what it must."""

    bandwidth: float | None  # bytes/s
    weight_bytes: int  # read once per step: all weights but the input embedding
    kv_bytes_per_token: int  # read once per step for every cached token of every row

    def tok_s(self, rows: int, context: int) -> float | None:
        if self.bandwidth is None:
            return None
        step_bytes = self.weight_bytes + rows * self.kv_bytes_per_token * context
        return rows * self.bandwidth / step_bytes


def limit_of(model: TransformersModel, card: str) -> Limit:
    net = model.model
    config = net.config
    weights = sum(p.numel() * p.element_size() for p in net.parameters())
    embedding = net.get_input_embeddings().weight
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    size = embedding.element_size()
    kv = 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * size
    tb_s = card_bandwidth(card)
    return Limit(
        bandwidth=tb_s * 1e12 if tb_s is not None else None,
        weight_bytes=weights - embedding.numel() * size,
        kv_bytes_per_token=kv,
    )


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> float:
    sync(device)
    started = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - started


def raw_generate(model: TransformersModel, prompt: list[int], new: int) -> list[int]:
    ids = torch.tensor([prompt], device=model.device)
    with torch.inference_mode():
        out = model.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            eos_token_id=model._stop_ids,
            pad_token_id=model._stop_ids[0],
        )
    ids_out: list[int] = out[0, len(prompt) :].tolist()
    return ids_out


def own_loop(model: TransformersModel, prompt: list[int], new: int) -> list[int]:
    model.scheduler.prefix.clear()  # a cold prompt, like raw generate's
    return list(model.generate_ids(prompt, Sampling(max_tokens=new)))


@dataclass
class ApiCall:
    first_s: float
    wall_s: float
    tokens: int

    @property
    def tok_s(self) -> float:
        return (self.tokens - 1) / (self.wall_s - self.first_s)


def api_call(runtime: Runtime, messages: list[Message], new: int) -> ApiCall:
    """One answer through the agent's `generate`, timed in the calling thread."""
    usage = Usage()
    started = time.perf_counter()
    first = 0.0
    for _ in generate(runtime, messages, Sampling(max_tokens=new), usage, stall_timeout_s=600):
        first = first or time.perf_counter() - started
    return ApiCall(first, time.perf_counter() - started, usage.completion_tokens)


def api_users(runtime: Runtime, conversations: list[list[Message]], new: int) -> list[ApiCall]:
    """Each conversation from a request thread of its own, all at once."""
    start = threading.Barrier(len(conversations))

    def one(messages: list[Message]) -> ApiCall:
        start.wait(timeout=600)
        return api_call(runtime, messages, new)

    with ThreadPoolExecutor(len(conversations), thread_name_prefix="request") as pool:
        return list(pool.map(one, conversations))


def main(argv: list[str] | None = None) -> str | int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny dims on CPU, no figures")
    parser.add_argument("--prompt-tokens", type=int, default=None)
    parser.add_argument("--new-tokens", type=int, default=None)
    parser.add_argument("--streams", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.cpu_smoke and not torch.cuda.is_available():
        print(NO_CUDA, flush=True)
        return 0
    gpu = not args.cpu_smoke
    device, dims = ("cuda", MEGREZ_3B) if gpu else ("cpu", TINY)
    prompt_tokens = args.prompt_tokens or (1699 if gpu else 48)
    new = args.new_tokens or (256 if gpu else 8)
    streams = args.streams or (16 if gpu else 3)
    repeats = args.repeats or (3 if gpu else 1)
    dtype = torch.bfloat16 if gpu else torch.float32
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_folder(Path(tmp) / "megrez-3b-shaped", dims, dtype, device)
        settings = Settings(model=str(folder), device=device)
        model = load_model(settings)
        assert isinstance(model, TransformersModel)
    card = torch.cuda.get_device_name() if gpu else "CPU"
    report = Report(limit_of(model, card))
    # One set of weights, three ways to decode them (each with its own decode thread).
    graphs = "CUDA graphs" if gpu else "CUDA graphs asked (none on CPU)"
    paths = {
        "eager": model.scheduler,
        "static cache": BatchScheduler(model.model, device, static_cache=True),
        graphs: BatchScheduler(model.model, device, static_cache=True, cuda_graphs=gpu),
    }
    runtime = Runtime(model, settings)
    messages = prompt_messages(prompt_tokens, seed=1)
    prompt = model.prompt_ids(messages)
    context = len(prompt) + new // 2  # each row's mean cache length while it decodes

    def rate(seconds_one: list[float], seconds_all: list[float]) -> float:
        return statistics.median((new - 1) / (a - o) for o, a in zip(seconds_one, seconds_all))

    reference: list[int] = []
    for name, scheduler in paths.items():
        model.scheduler = scheduler
        ids = own_loop(model, prompt, new)  # warm-up (and graph capture)
        reference = reference or ids
        same = "same tokens as eager" if ids == reference else first_difference(ids, reference)
        report.note(name, f"{same}; {scheduler.graphs_captured} CUDA graphs captured")
    # Interleaved rounds so that a change of load hits every path alike.
    seconds: dict[str, tuple[list[float], list[float]]] = {
        name: ([], []) for name in ["raw `generate`", *paths]
    }
    for _ in range(repeats):
        for name in seconds:
            if name in paths:
                model.scheduler = paths[name]
                one = timed(lambda: own_loop(model, prompt, 1), device)
                full = timed(lambda: own_loop(model, prompt, new), device)
            else:
                one = timed(lambda: raw_generate(model, prompt, 1), device)
                full = timed(lambda: raw_generate(model, prompt, new), device)
            seconds[name][0].append(one)
            seconds[name][1].append(full)
    for name, (one_s, all_s) in seconds.items():
        label = name if name.startswith("raw") else f"own loop, {name}, main thread"
        report.add(label, rate(one_s, all_s), 1, context)

    conversations = [prompt_messages(prompt_tokens, seed=100 + i) for i in range(streams)]
    for name in ("eager", graphs):
        model.scheduler = paths[name]
        model.scheduler.prefix.clear()
        calls = [api_call(runtime, messages, new) for _ in range(repeats)]
        report.add(
            f"own loop, {name}, through the API path (request thread)",
            statistics.median(c.tok_s for c in calls),
            1,
            context,
        )
        alone = api_users(runtime, conversations[:1], new)[0]
        model.scheduler.peak_batch = 0
        users = api_users(runtime, conversations, new)
        wall = max(u.wall_s for u in users)
        together = sum(u.tokens for u in users) / wall
        report.add(
            f"{streams} concurrent users, {name}, API path (all tokens / wall)",
            together,
            streams,
            context,
            f"{together / (alone.tokens / alone.wall_s):.1f}x one user's throughput; "
            f"peak batch {model.scheduler.peak_batch}",
        )
        model.scheduler.prefix.clear()
        cold = api_call(runtime, messages, 2)
        warm = api_call(runtime, messages, 2)
        report.timing(
            f"time to first token, {name}, API path: cold / prompt cached",
            f"{cold.first_s * 1000:.0f} / {warm.first_s * 1000:.0f} ms",
        )
    params = sum(p.numel() for p in model.model.parameters()) / 1e9
    header = (
        f"{card}, torch {torch.__version__}, {params:.2f} B parameters "
        f"({'Megrez-3B dimensions' if gpu else 'tiny dimensions, CPU smoke run'}, {dtype}), "
        f"prompt {len(prompt)} tokens, greedy, {new} new tokens, median of {repeats}"
    )
    return report.render(header)


def first_difference(ids: list[int], reference: list[int]) -> str:
    at = next((i for i, (a, b) in enumerate(zip(ids, reference)) if a != b), len(reference))
    return f"DIFFERS from eager at token {at}"


class Report:
    """The table: each rate with its share of the bandwidth limit; printed row by row too, so
    a run cut short by its time limit still shows what it measured."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.rows: list[str] = []
        self.notes: list[str] = []

    def note(self, path: str, text: str) -> None:
        self.notes.append(f"- greedy output, {path}: {text}")
        print(self.notes[-1], flush=True)

    def add(self, what: str, tok_s: float, rows: int, context: int, extra: str = "") -> None:
        limit = self.limit.tok_s(rows, context)
        share = f"{tok_s / limit:.1%} of {limit:,.0f}" if limit else "n/a (card not in table)"
        self._row(f"| {what} | {tok_s:,.1f} tok/s | {share} | {extra} |")

    def timing(self, what: str, figure: str) -> None:
        self._row(f"| {what} | {figure} | | |")

    def _row(self, line: str) -> None:
        self.rows.append(line)
        print(line, flush=True)

    def render(self, header: str) -> str:
        bandwidth = f"{self.limit.bandwidth / 1e12:.2f} TB/s" if self.limit.bandwidth else "unknown"
        weights_gb = self.limit.weight_bytes / 1e9
        kv_kib = self.limit.kv_bytes_per_token / 1024
        reads = (
            f"Bandwidth {bandwidth}; a step reads {weights_gb:.2f} GB of weights and "
            f"{kv_kib:.1f} KiB per cached token of each row."
        )
        lines = [
            header,
            reads,
            "",
            "| what | rate | share of the bandwidth limit (limit tok/s) | note |",
            "|---|---|---|---|",
            *self.rows,
            "",
            *self.notes,
        ]
        report = "\n".join(lines)
        print(report)
        return report


if __name__ == "__main__":
    main()
