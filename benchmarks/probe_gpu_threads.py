"""Probe: is a GPU decode loop slower in a worker thread than in the main thread?

Not a `make bench` benchmark (no `main`-in-`bench_*` name): a diagnosis kept with its figures
in RESULTS.md. It builds the Megrez-3B-shaped LLaMA (random bf16 weights, on the GPU) and
times the same plain greedy loop (DynamicCache, one token to Python per step) in the main
thread and in worker threads with a few variations, interleaved, two rounds.

    python -m benchmarks.probe_gpu_threads          # on a GPU machine; tiny dims on CPU
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

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

    prompt = torch.randint(0, 122880, (1, 512), device=DEVICE)
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


def in_worker(fn: Callable[[], Rate], setup: Callable[[], object] | None = None) -> Rate:
    result: list[Rate] = []

    def body() -> None:
        if setup is not None:
            setup()
        result.append(fn())

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return result[0]


def main() -> None:
    model = build()
    new = 128 if GPU else 16
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPUs")

    def loop() -> Rate:
        return greedy_loop(model, new)

    loop()  # warm-up
    variants: list[tuple[str, Callable[[], Rate]]] = [
        ("main thread", loop),
        ("worker thread, main joins", lambda: in_worker(loop)),
        ("worker thread, no_grad", lambda: in_worker(lambda: greedy_loop(model, new, "no_grad"))),
        (
            "worker thread, set_num_threads(1)",
            lambda: in_worker(loop, lambda: torch.set_num_threads(1)),
        ),
        ("main thread again", loop),
    ]
    for round_ in range(2):
        for name, fn in variants:
            rate, cpu_ms = fn()
            print(f"round {round_} | {name:34s} | {rate:6.1f} tok/s | {cpu_ms:6.2f} CPU ms/token")


if __name__ == "__main__":
    main()
