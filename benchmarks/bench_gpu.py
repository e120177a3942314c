"""The in-process transformers runtime against raw `generate`, on a Megrez-3B-shaped model.

Builds a LLaMA with Megrez-3B-Instruct's published dimensions (vocab 122880, hidden 2560,
intermediate 7168, 32 layers, 40 heads / 10 KV heads, rope_theta 5e6, untied embeddings),
random weights, and a word-level tokenizer over the same vocabulary that carries Megrez's
special tokens and chat template: nothing is downloaded. It is saved as an HF folder and
loaded through `load_model(Settings(model=FOLDER))` exactly as a real folder would be. Then,
in one run: load time, prefill, single-stream decode through our backend vs raw `generate`,
time to first token, N concurrent streams vs one, and Omni's worker-thread hand-off (raw
`generate` + our coalescing streamer at several wake-up intervals vs no consumer).

On a GPU it uses the full dimensions in bf16; on a CPU it uses reduced dimensions (same
vocabulary, 4 layers, hidden 512) so it finishes in minutes. Usage:

    .venv/bin/python -m benchmarks.bench_gpu [--dims full|small] [--prompt-tokens N]
        [--new-tokens N] [--streams N] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from megrez_search.runtime import Message, Sampling, load_model, megrez_format
from megrez_search.runtime.text_stream import StopScanner
from megrez_search.runtime.transformers_backend import TransformersModel, pick_device
from megrez_search.runtime.worker_stream import WorkerStream
from megrez_search.settings import Settings

MEGREZ_3B: dict[str, Any] = {
    "hidden_size": 2560,
    "intermediate_size": 7168,
    "num_hidden_layers": 32,
    "num_attention_heads": 40,
    "num_key_value_heads": 10,
}
REDUCED: dict[str, Any] = {
    "hidden_size": 512,
    "intermediate_size": 1434,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
}
VOCAB = 122880
SPECIAL = list(megrez_format.SPECIAL_TOKENS)


def word(i: int) -> str:
    return f"w{i}"


def build_folder(dest: Path, dims: dict[str, Any], dtype: torch.dtype) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIAL)}
    vocab.update({word(i): i for i in range(len(SPECIAL), VOCAB)})
    core = Tokenizer(models.WordLevel(vocab, unk_token="<|unk|>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=megrez_format.TURN_END,
        pad_token="<|pad|>",
        unk_token="<|unk|>",
        additional_special_tokens=SPECIAL,
    )
    tokenizer.chat_template = megrez_format.CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=VOCAB,
        rope_theta=5e6,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        max_position_embeddings=4096,
        eos_token_id=vocab[megrez_format.TURN_END],
        pad_token_id=vocab["<|pad|>"],
        bos_token_id=None,
        **dims,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if dtype == torch.bfloat16 else "cpu"):
        model = LlamaForCausalLM(config).to(dtype)
    with torch.no_grad():
        # Random weights would now and then pick a stop token; every run must be full length.
        # A zero row scores 0, below the best of 122880 random logits at every step.
        for token in (megrez_format.TURN_END, megrez_format.EOS):
            model.lm_head.weight[vocab[token]] = 0
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def prompt_messages(tokens: int, seed: int) -> list[Message]:
    """A conversation whose prompt is about `tokens` tokens of random words."""
    generator = torch.Generator().manual_seed(seed)
    words = torch.randint(len(SPECIAL), VOCAB, (max(tokens - 12, 1),), generator=generator)
    return [Message("system", "w100 w200"), Message("user", " ".join(map(word, words.tolist())))]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> float:
    return timed_both(fn, device)[0]


def timed_both(fn: Callable[[], Any], device: str) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds): on a shared, loaded CPU the second is the
    steadier measure of how much work a loop does."""
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def raw_generate(
    model: TransformersModel, prompt: list[int], new: int, streamer: Any = None
) -> Any:
    ids = torch.tensor([prompt], device=model.device)
    with torch.inference_mode():
        return model.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            eos_token_id=model._stop_ids,
            pad_token_id=model._stop_ids[0],
            streamer=streamer,
        )


def ours(model: TransformersModel, prompt: list[int], new: int) -> int:
    model.scheduler.prefix.clear()  # a cold prompt, like raw generate's
    return sum(1 for _ in model.generate_ids(prompt, Sampling(max_tokens=new)))


def stream_wall(model: TransformersModel, messages: list[Message], new: int) -> tuple[float, float]:
    """(time to first chunk, wall time) of one `stream` call."""
    started = time.perf_counter()
    first = 0.0
    for _ in model.stream(messages, Sampling(max_tokens=new)):
        first = first or time.perf_counter() - started
    return first, time.perf_counter() - started


def concurrent_wall(
    model: TransformersModel, conversations: list[list[Message]], new: int
) -> float:
    def run(messages: list[Message]) -> None:
        for _ in model.stream(messages, Sampling(max_tokens=new)):
            pass

    threads = [threading.Thread(target=run, args=(c,)) for c in conversations]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def worker_rate(model: TransformersModel, prompt: list[int], new: int, interval: float) -> float:
    """Decode tok/s of raw generate in a worker thread, consumed through WorkerStream."""

    def work(streamer: Any) -> Any:
        return raw_generate(model, prompt, new, streamer)

    stream = WorkerStream(model.tokenizer, work, StopScanner(()), "failed", interval_s=interval)
    started = time.perf_counter()
    for _ in stream:
        pass
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dims", choices=["full", "small"], default=None)
    parser.add_argument("--prompt-tokens", type=int, default=None)
    parser.add_argument("--new-tokens", type=int, default=None)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    gpu = device.startswith("cuda")
    dims = MEGREZ_3B if (args.dims or ("full" if gpu else "small")) == "full" else REDUCED
    prompt_tokens = args.prompt_tokens or (1699 if gpu else 256)
    new = args.new_tokens or (256 if gpu else 64)
    repeats = args.repeats or 3
    dtype = torch.bfloat16 if gpu else torch.float32
    rows: list[tuple[str, str]] = []

    def add(row: tuple[str, str]) -> None:
        # Printed at once too, so a run cut short by its time limit still shows what it measured.
        rows.append(row)
        print(f"| {row[0]} | {row[1]} |", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_folder(Path(tmp) / "megrez-3b-shaped", dims, dtype)
        started = time.perf_counter()
        model = load_model(Settings(model=str(folder), device=device))
        assert isinstance(model, TransformersModel)
        add(("load through the backend", f"{time.perf_counter() - started:.1f} s"))
    params = sum(p.numel() for p in model.model.parameters()) / 1e9
    messages = prompt_messages(prompt_tokens, seed=1)
    prompt = model.prompt_ids(messages)
    ours(model, prompt, 4)  # warm-up
    raw_generate(model, prompt, 4)

    def median(fn: Callable[[], Any]) -> float:
        return statistics.median(timed(fn, device) for _ in range(repeats))

    # Interleaved rounds (raw, ours, raw, ours...) so a load change hits both alike.
    rounds = []
    for _ in range(repeats):
        raw_one = timed_both(lambda: raw_generate(model, prompt, 1), device)
        raw_all = timed_both(lambda: raw_generate(model, prompt, new), device)
        own_one = timed_both(lambda: ours(model, prompt, 1), device)
        own_all = timed_both(lambda: ours(model, prompt, new), device)
        rounds.append((raw_one, raw_all, own_one, own_all))

    def rate(which: int, first: int, full: int) -> float:
        return statistics.median((new - 1) / (r[full][which] - r[first][which]) for r in rounds)

    prefill_s = statistics.median(r[2][0] for r in rounds)
    raw_one_s = statistics.median(r[0][0] for r in rounds)
    add(("prefill (backend)", f"{len(prompt) / prefill_s:,.0f} tok/s"))
    raw_rate, own_rate = rate(0, 0, 1), rate(0, 2, 3)
    add(("decode, raw `model.generate`", f"{raw_rate:.1f} tok/s"))
    add(
        (
            "decode, backend token loop (`generate_ids`)",
            f"{own_rate:.1f} tok/s ({own_rate / raw_rate:.2f}x raw)",
        )
    )
    if not gpu:
        raw_cpu, own_cpu = rate(1, 0, 1), rate(1, 2, 3)
        add(
            (
                "decode per CPU-second of this process: backend / raw",
                f"{own_cpu:.1f} / {raw_cpu:.1f} tok/s ({own_cpu / raw_cpu:.2f}x)",
            )
        )
    model.scheduler.prefix.clear()
    first, wall = stream_wall(model, messages, new)
    stream_rate = (new - 1) / (wall - first)
    add(
        (
            "decode, `TransformersModel.stream` (text)",
            f"{stream_rate:.1f} tok/s ({stream_rate / raw_rate:.2f}x raw)",
        )
    )
    add(("time to first chunk, cold prompt", f"{first * 1000:.0f} ms"))
    # The same prompt again, as the answer step after the decision step: its prefix is cached.
    first_warm, _ = stream_wall(model, messages, 2)
    add(("time to first chunk, prompt prefix cached", f"{first_warm * 1000:.0f} ms"))

    conversations = [prompt_messages(prompt_tokens, seed=100 + i) for i in range(args.streams)]
    model.scheduler.prefix.clear()
    one = concurrent_wall(model, conversations[:1], new)
    model.scheduler.peak_batch = 0
    many = concurrent_wall(model, conversations, new)
    add(
        (
            f"{args.streams} concurrent `stream` calls",
            (
                f"{many / one:.2f}x one call's wall time ({one:.1f} s vs {many:.1f} s; "
                f"peak batch {model.scheduler.peak_batch})"
            ),
        )
    )

    intervals = (0.0, 0.01, 0.03, 0.1)
    omni: dict[float | None, list[float]] = {None: [], **{i: [] for i in intervals}}
    for _ in range(repeats):  # interleaved, as above
        omni[None].append(timed(lambda: raw_generate(model, prompt, new), device))
        for interval in intervals:
            omni[interval].append(worker_rate(model, prompt, new, interval))
    for wake, seconds in omni.items():
        label = (
            "raw `generate`, no streamer"
            if wake is None
            else "worker thread + streamer, consumer woken "
            + ("every token" if wake == 0 else f"every {wake * 1000:.0f} ms")
        )
        tok_s = (new - 1) / (statistics.median(seconds) - raw_one_s)
        add((f"Omni path: {label}", f"{tok_s:.1f} tok/s"))

    where = torch.cuda.get_device_name() if gpu else "CPU"
    header = (
        f"{where}, torch {torch.__version__}, {params:.2f} B parameters "
        f"({'Megrez-3B dimensions' if dims is MEGREZ_3B else 'reduced dimensions'}, {dtype}), "
        f"prompt {len(prompt)} tokens, greedy, {new} new tokens, median of {repeats}"
    )
    lines = [header, "", "| what | figure |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)]
    report = "\n".join(lines)
    print(report)
    return report


if __name__ == "__main__":
    main()
