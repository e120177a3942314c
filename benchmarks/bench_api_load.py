"""Load benchmark of the OpenAI-compatible API: do concurrent conversations overlap?

16 conversations (two questions each, kept on the server with `thread_id`) run at once
through `/v1/chat/completions` against a model backend that takes a fixed time per call and
does not serialise (like a batching server such as vLLM). Every question searches a small
`local:` index whose pages are fetched from a loopback HTTP server, so the full graph runs.

Pass: all 16 complete with answers and sources, none lost (each thread holds its 4 turns),
and the wall time of the 16 is at most 2x that of one conversation alone.

    .venv/bin/python -m benchmarks api_load
    python benchmarks/bench_api_load.py --delay 0.3   # the same, with a slower fake model
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from wiring import retrieval_policy, search_agent

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import httpx
import openai
import uvicorn

from agent.api import SearchAgent
from core.settings import Settings
from retrieval.index import build_index
from runtime import ChatModel, Choice, Message, Runtime, Sampling, Usage
from server.app import create_api
from tests.support.servers import serve_directory

TOPICS = {
    "lru_cache": "The functools.lru_cache decorator caches results; its maxsize defaults to 128.",
    "sqlite3": "sqlite3.connect waits 5.0 seconds for a locked database by default (timeout).",
    "dataclasses": "PEP 557 introduced data classes in Python 3.7 with the dataclass decorator.",
    "asyncio": "asyncio.run runs a coroutine and closes the event loop when it finishes.",
}
QUESTIONS = (
    "What is the default maxsize of functools.lru_cache?",
    "How long does sqlite3 wait for a lock?",
)


class FixedDelayModel(ChatModel):
    """Every call takes `delay` seconds, then answers with a short cited sentence."""

    name = "fixed-delay"
    dialect = "generic"  # type: ignore[assignment]
    modalities = frozenset({"text"})

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0
        self._count = threading.Lock()

    def _wait(self) -> None:
        with self._count:
            self.calls += 1
        time.sleep(self.delay)

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        self._wait()
        pieces = ["The", " answer", " is", " in", " the", " docs", " [1]", "."]
        if usage is not None:
            usage.add(Usage(sum(len(m.content) // 4 for m in messages), len(pieces)))
        yield from pieces

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        self._wait()
        return Choice(
            options[0], {option: (0.0 if i == 0 else -3.0) for i, option in enumerate(options)}
        )

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(settings: Settings, model: ChatModel) -> Iterator[tuple[str, SearchAgent]]:
    agent = search_agent(settings, Runtime(model, settings))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_api(agent, settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/v1"
    with httpx.Client() as client:
        while True:  # the server thread is up within a second; poll until it answers
            try:
                if client.get(base + "/models").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
    try:
        yield base, agent
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        agent.close()


def conversation(base: str, index: int) -> dict[str, object]:
    """Two questions in one server-side thread; returns its answers, sources and time."""
    thread_id = f"bench-{index}"
    started = time.perf_counter()
    answers: list[str] = []
    sources = 0
    steps: dict[str, float] = {}
    with openai.OpenAI(base_url=base, api_key="unused", max_retries=0, timeout=300) as client:
        for question in QUESTIONS:
            response = client.chat.completions.create(
                model="megrez-search",
                messages=[{"role": "user", "content": question}],
                extra_body={"thread_id": thread_id},
            )
            answers.append(response.choices[0].message.content or "")
            extra = response.model_extra or {}
            sources += len(extra.get("sources") or [])
            for step, seconds in (extra.get("megrez") or {}).get("timings", {}).items():
                steps[step] = steps.get(step, 0.0) + seconds
    return {
        "thread_id": thread_id,
        "answers": answers,
        "sources": sources,
        "seconds": time.perf_counter() - started,
        "steps": steps,
    }


def _mean_steps(results: list[dict[str, object]]) -> dict[str, float]:
    """Seconds per step of one conversation, averaged over `results`."""
    total: dict[str, float] = {}
    for result in results:
        for step, seconds in result["steps"].items():  # type: ignore[union-attr]
            total[step] = total.get(step, 0.0) + seconds
    return {step: round(seconds / len(results), 3) for step, seconds in total.items()}


def run(conversations: int, delay: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="megrez-bench-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        links = []
        for name, text in TOPICS.items():
            (site / f"{name}.html").write_text(
                f"<html><head><title>{name}</title></head><body><main><h1>{name}</h1>"
                f"<p>{text}</p><p>{text}</p></main></body></html>",
                encoding="utf-8",
            )
            links.append(f'<a href="{name}.html">{name}</a>')
        (site / "index.html").write_text(
            "<html><body>" + " ".join(links) + "</body></html>", encoding="utf-8"
        )
        settings = Settings(
            data_dir=Path(tmp) / "data",
            search="local:bench",
            pages=3,
            allow_hosts="127.0.0.1,localhost",
            ui_concurrency=max(16, conversations),
            decide_bias=1.0,
        )  # the stand-in model has no opinion: search
        model = FixedDelayModel(delay)
        with serve_directory(site) as site_url:
            policy = retrieval_policy(settings)
            build_index(site_url + "/", "bench", policy.indexes, policy.crawl, progress=False)
            with api_server(settings, model) as (base, agent):
                conversation(base, -1)  # warm-up: imports, first index and cache opens
                calls_before, cpu_before = model.calls, time.process_time()
                single = conversation(base, 0)
                cpu_single = time.process_time() - cpu_before  # client and server: one process
                calls_per_conversation = model.calls - calls_before
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=conversations) as pool:
                    results = list(
                        pool.map(lambda i: conversation(base, i), range(1, conversations + 1))
                    )
                total = time.perf_counter() - started
                kept = [len(agent.turns(str(r["thread_id"]))) for r in results]
    complete = [r for r in results if all(a.strip() for a in r["answers"]) and r["sources"]]  # type: ignore[union-attr]
    return {
        "conversations": conversations,
        "questions_per_conversation": len(QUESTIONS),
        "model_delay_s": delay,
        "model_calls_per_conversation": calls_per_conversation,
        "single_conversation_s": round(float(single["seconds"]), 3),  # type: ignore[arg-type]
        "single_conversation_cpu_s": round(cpu_single, 3),
        "concurrent_total_s": round(total, 3),
        "ratio": round(total / float(single["seconds"]), 2),  # type: ignore[arg-type]
        "completed": len(complete),
        "lost": sum(1 for turns in kept if turns != 2 * len(QUESTIONS)),
        "slowest_conversation_s": round(max(float(r["seconds"]) for r in results), 3),  # type: ignore[arg-type]
        "steps_single_s": _mean_steps([single]),
        "steps_concurrent_mean_s": _mean_steps(results),
    }


def markdown(report: dict[str, object]) -> str:
    n = report["conversations"]
    return "\n".join(
        [
            (
                f"API load: {n} concurrent conversations x {report['questions_per_conversation']} "
                f"questions, model call = {report['model_delay_s']} s fixed "
                f"({report['model_calls_per_conversation']} calls per conversation), "
                "search `local:` + loopback fetch:"
            ),
            "",
            "| measure | figures | target |",
            "|---|---|---|",
            (
                f"| one conversation alone | {report['single_conversation_s']} s "
                f"(CPU {report['single_conversation_cpu_s']} s) | - |"
            ),
            (
                f"| {n} at once, wall time | {report['concurrent_total_s']} s = "
                f"{report['ratio']}x one | <= 2x |"
            ),
            f"| completed / lost | {report['completed']}/{n} / {report['lost']} | {n}/{n} / 0 |",
            "",
            f"Mean seconds per step, one alone: {report['steps_single_s']}",
            f"Mean seconds per step, {n} at once: {report['steps_concurrent_mean_s']}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per model call (1.0)")
    args = parser.parse_args(argv)
    report = run(args.conversations, args.delay)
    print(markdown(report))
    ok = (
        report["completed"] == args.conversations
        and report["lost"] == 0
        and float(report["ratio"]) <= 2.0
    )  # type: ignore[arg-type]
    print("\nPASS" if ok else "\nFAIL: expected all complete, none lost, ratio <= 2.0")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
