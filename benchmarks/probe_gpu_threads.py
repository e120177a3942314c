"""Probe: is a GPU decode loop slower in a worker thread than in the main thread, and why?

Not a `make bench` benchmark (no `main`-in-`bench_*` name): a diagnosis kept with its figures
in RESULTS.md. It builds the Megrez-3B-shaped LLaMA (random bf16 weights, on the GPU) and
times the same greedy decode in the main thread and in worker threads, interleaved, two
rounds: a bare loop (DynamicCache, one token to Python per step) with a few variations, and
the backend's own decode thread (`BatchScheduler`, eager and with CUDA graphs) asked from
the main thread and from a request thread, as the API and the UI ask it.

    python -m benchmarks.probe_gpu_threads                     # every variant; tiny dims on CPU
    python -m benchmarks.probe_gpu_threads --variant worker    # one variant (names: --list)
    python -m benchmarks.probe_gpu_threads --py-spy OUT        # each variant under py-spy

`--py-spy OUT` runs each variant in its own process under
`py-spy record --native --threads --idle --rate 200 --format raw -o OUT/VARIANT.txt`
(native frames, so time inside libtorch/libcuda shows; `--format raw` is collapsed stacks,
one line per stack with its sample count: grep them, or load them in speedscope). py-spy comes
from PyPI (`pip install py-spy`); it needs ptrace, so run as root or with
`--cap-add SYS_PTRACE` in a container. Compare the worker's stacks with the main thread's
at the same frames: the extra CPU per token the worker spends is where the cause is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

GPU = torch.cuda.is_available()
DEVICE = "cuda" if GPU else "cpu"
DIMS = (
    {
        "hidden_size": 2560,
        "intermediate_size": 7168,
        "num_hidden_layers": 32,
        "num_attention_heads": 40,
        "num_key_value_heads": 10,
    }
    if GPU
    else {
        "hidden_size": 256,
        "intermediate_size": 512,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    }
)
PROMPT = 512
Rate = tuple[float, float]  # (tokens/s, this thread's CPU ms per token)


def build() -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=122880, rope_theta=5e6, tie_word_embeddings=False, **DIMS)
    torch.manual_seed(0)
    with torch.device(DEVICE):
        model = LlamaForCausalLM(config).to(torch.bfloat16 if GPU else torch.float32)
    return model.eval()


def greedy_loop(model: torch.nn.Module, new: int, grad: str = "inference") -> Rate:
    from transformers import DynamicCache

    prompt = torch.randint(0, 122880, (1, PROMPT), device=DEVICE)
    with torch.inference_mode() if grad == "inference" else torch.no_grad():
        cache = DynamicCache()
        out = model(input_ids=prompt, past_key_values=cache, use_cache=True, logits_to_keep=1)
        token = out.logits[:, -1].argmax(-1, keepdim=True)
        if GPU:
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(new):
            out = model(input_ids=token, past_key_values=cache, use_cache=True)
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            token.item()
        return new / (time.perf_counter() - wall), (time.thread_time() - cpu) / new * 1000


def scheduler_loop(scheduler: Any, new: int) -> Rate:
    """Greedy decode through the backend's decode thread; CPU ms are the asking thread's."""
    from runtime import Sampling
    from runtime.token_loop import Generation

    prompt = torch.randint(0, 122880, (PROMPT,)).tolist()
    sequence = Generation(prompt, Sampling(max_tokens=new + 1), new + 1, frozenset())
    scheduler.prefix.clear()
    scheduler.submit(sequence)
    wall, cpu = time.perf_counter(), time.thread_time()
    taken = 0
    try:
        while tokens := scheduler.take(sequence):
            taken += len(tokens)
    finally:
        scheduler.release(sequence)
    return taken / (time.perf_counter() - wall), (time.thread_time() - cpu) / max(taken, 1) * 1000


def in_worker(fn: Callable[[], Rate], setup: Callable[[], object] | None = None) -> Rate:
    result: list[Rate] = []

    def body() -> None:
        if setup is not None:
            setup()
        result.append(fn())

    thread = threading.Thread(target=body, name="probe-worker")
    thread.start()
    thread.join()
    return result[0]


def variants(model: torch.nn.Module, new: int) -> dict[str, Callable[[], Rate]]:
    from runtime.batch_scheduler import BatchScheduler

    eager = BatchScheduler(model, DEVICE)
    graphs = BatchScheduler(model, DEVICE, static_cache=True, cuda_graphs=GPU)

    def loop() -> Rate:
        return greedy_loop(model, new)

    return {
        "main": loop,
        "worker": lambda: in_worker(loop),
        "worker-no-grad": lambda: in_worker(lambda: greedy_loop(model, new, "no_grad")),
        "worker-one-thread": lambda: in_worker(loop, lambda: torch.set_num_threads(1)),
        "decode-thread-eager-from-main": lambda: scheduler_loop(eager, new),
        "decode-thread-eager-from-worker": lambda: in_worker(lambda: scheduler_loop(eager, new)),
        "decode-thread-graphs-from-main": lambda: scheduler_loop(graphs, new),
        "decode-thread-graphs-from-worker": lambda: in_worker(lambda: scheduler_loop(graphs, new)),
        "main-again": loop,
    }


def under_py_spy(out: Path, names: list[str]) -> None:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        print("py-spy is not installed here: `pip install py-spy`, then run this again.")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        command = [
            py_spy, "record", "--native", "--threads", "--idle", "--rate", "200",
            "--format", "raw", "-o", str(out / f"{name}.txt"), "--",
            sys.executable, "-m", "benchmarks.probe_gpu_threads", "--variant", name,
        ]  # fmt: skip
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", help="run only these (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the variants")
    parser.add_argument("--py-spy", type=Path, metavar="OUT", help="profile each variant")
    parser.add_argument("--tokens", type=int, default=128 if GPU else 16)
    args = parser.parse_args(argv)
    model = build()
    runs = variants(model, args.tokens)
    names = args.variant or list(runs)
    if args.list or args.py_spy:
        if args.py_spy:
            under_py_spy(args.py_spy, names)
        else:
            print("\n".join(runs))
        return
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPUs")
    for name in names:
        runs[name]()  # warm-up (and, for graphs, capture)
    for round_ in range(2):
        for name in names:
            rate, cpu_ms = runs[name]()
            print(f"round {round_} | {name:32s} | {rate:6.1f} tok/s | {cpu_ms:6.2f} CPU ms/token")


if __name__ == "__main__":
    main()
