"""Runtime speed: the same SmolLM2-135M-Instruct weights on llama.cpp and on transformers.

Measures, in one run and one process per backend turn: load time, prefill tokens/s (a long
prompt, one generated token) and decode tokens/s (greedy, fixed token count), then prints a
Markdown table with the ratios. Usage:

    .venv/bin/python -m benchmarks.bench_runtime [--decode-tokens 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from dataclasses import dataclass

from megrez_search.runtime import ChatModel, Message, Sampling, Usage
from megrez_search.settings import Settings

PROMPT_PARAGRAPH = (
    "The functools module is for higher-order functions: functions that act on or return "
    "other functions. In general, any callable object can be treated as a function for the "
    "purposes of this module. "
)


@dataclass
class Figures:
    backend: str
    load_s: float
    prefill_tok_s: float
    decode_tok_s: float


def _load(backend: str) -> tuple[ChatModel, float]:
    from megrez_search.runtime.registry import embedded_gguf_path

    started = time.perf_counter()
    if backend == "llama.cpp":
        from megrez_search.runtime.llamacpp import LlamaCppModel

        model: ChatModel = LlamaCppModel(embedded_gguf_path(), Settings())
    else:
        from megrez_search.runtime.transformers_backend import TransformersModel

        gguf = embedded_gguf_path()
        model = TransformersModel(gguf.parent, Settings(device="cpu"), gguf_file=gguf.name)
    return model, time.perf_counter() - started


def _prefill(model: ChatModel, prompt_paragraphs: int) -> float:
    messages = [Message("user", PROMPT_PARAGRAPH * prompt_paragraphs + "Summarise this.")]
    usage = Usage()
    if hasattr(model, "llm"):
        model.llm.reset()  # type: ignore[attr-defined] - no cached prefix: measure a cold prompt
    started = time.perf_counter()
    model.complete(messages, Sampling(max_tokens=1), usage)
    return usage.prompt_tokens / (time.perf_counter() - started)


def _decode(model: ChatModel, tokens: int) -> float:
    messages = [Message("user", "Write a long story about a lighthouse keeper.")]
    usage = Usage()
    stream = model.stream(messages, Sampling(max_tokens=tokens), usage)
    next(stream)  # first token: prefill is over
    started = time.perf_counter()
    for _ in stream:
        pass
    return max(usage.completion_tokens - 1, 1) / (time.perf_counter() - started)


def measure(backend: str, decode_tokens: int, repeats: int) -> Figures:
    model, load_s = _load(backend)
    _decode(model, 8)  # warm-up
    prefill = statistics.median(_prefill(model, 12) for _ in range(repeats))
    decode = statistics.median(_decode(model, decode_tokens) for _ in range(repeats))
    del model
    gc.collect()
    return Figures(backend, load_s, prefill, decode)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [measure(b, args.decode_tokens, args.repeats) for b in ("llama.cpp", "transformers")]
    llama, hf = rows
    lines = [
        "| backend | load s | prefill tok/s | decode tok/s |",
        "|---|---:|---:|---:|",
        *(
            f"| {r.backend} | {r.load_s:.2f} | {r.prefill_tok_s:.0f} | {r.decode_tok_s:.1f} |"
            for r in rows
        ),
        "",
        (
            f"llama.cpp / transformers: load {hf.load_s / llama.load_s:.1f}x faster, prefill "
            f"{llama.prefill_tok_s / hf.prefill_tok_s:.1f}x, decode "
            f"{llama.decode_tok_s / hf.decode_tok_s:.1f}x."
        ),
    ]
    report = "\n".join(lines)
    print(report)
    return report


if __name__ == "__main__":
    main()
