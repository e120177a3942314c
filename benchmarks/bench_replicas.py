"""Scale-out benchmark: two `serve` replicas on one PostgreSQL vs one replica.

A real PostgreSQL (Debian's `postgresql`, started in a temp dir), `serve` replicas as real
processes with `MEGREZ_DATABASE_URL`, and a stand-in model server in OpenAI's wire format
whose every call takes a fixed time (1 s) and does not serialise (like vLLM). Each
conversation asks 2 questions (`thread_id` kept on the server, web search off: one model
call per question); with 2 replicas its first question goes to one replica and its second to
the other, so every second answer also proves the replicas share the conversation.

Pass: 32 conversations on 2 replicas all complete with both turns recorded, none lost, in
at most 1.5x the wall time of 16 conversations on 1 replica.

    .venv/bin/python -m benchmarks replicas     # or: python benchmarks/bench_replicas.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wiring import search_agent

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import openai
from pydantic import SecretStr

from core.settings import Settings
from tests.support.postgres import create_database, running_postgres
from tests.support.replicas import Replica
from tests.support.standin_model import serve_standin_model

QUESTIONS = ("What is the default maxsize of lru_cache?", "And what does typed do?")


def conversation(clients: Sequence[openai.OpenAI], index: int, tag: str) -> tuple[str, list[str]]:
    """Ask both questions of conversation `index`, turn n on replica (index + n) % replicas."""
    thread_id = f"{tag}-{index}"
    answers = []
    for turn, question in enumerate(QUESTIONS):
        reply = clients[(index + turn) % len(clients)].chat.completions.create(
            model="megrez-search-nosearch",
            messages=[{"role": "user", "content": question}],
            extra_body={"thread_id": thread_id},
        )
        answers.append(reply.choices[0].message.content or "")
    return thread_id, answers


def client(base: str) -> openai.OpenAI:
    """One client per replica, shared by the threads (as a real application would)."""
    return openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0, timeout=300)


def run_round(
    clients: Sequence[openai.OpenAI], conversations: int, settings: Settings, tag: str
) -> dict:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=conversations) as pool:
        futures = [pool.submit(conversation, clients, n, tag) for n in range(conversations)]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except Exception as exc:  # noqa: BLE001 - a failed conversation is counted, not fatal
                print(f"conversation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    wall = time.perf_counter() - started
    completed = sum(
        answers[1].startswith("Answer 2 to:") for _, answers in outcomes
    )  # the second turn saw the first, wherever it ran
    with search_agent(settings) as reader:  # its model is never called
        recorded = sum(len(reader.turns(thread_id)) == 4 for thread_id, _ in outcomes)
    return {
        "replicas": len(clients),
        "conversations": conversations,
        "wall_s": wall,
        "completed": completed,
        "lost": conversations - recorded,
    }


def run(conversations: int, delay: float, folder: Path) -> tuple[dict, dict]:
    with running_postgres(folder / "postgres") as admin, serve_standin_model(delay) as model:
        url = create_database(admin)
        settings = Settings(
            data_dir=folder / "reader", database_url=SecretStr(url), model=model.spec
        )
        env = {"MEGREZ_DATABASE_URL": url, "MEGREZ_MODEL": model.spec}
        replicas = [
            Replica.start(folder / f"replica-{n}", env, folder / f"replica-{n}.log") for n in (1, 2)
        ]
        try:
            # Warm-up: the first request of each process loads its runtime and connections.
            clients = [client(replica.base) for replica in replicas]
            for n, each in enumerate(clients):
                conversation([each], 0, f"warm-{n}")
            one = run_round(clients[:1], conversations, settings, "one")
            two = run_round(clients, 2 * conversations, settings, "two")
        finally:
            for replica in replicas:
                replica.stop()
    return one, two


def markdown(one: dict, two: dict) -> str:
    ratio = two["wall_s"] / one["wall_s"]
    rows = [
        "| replicas | conversations x 2 turns | wall time | completed | lost |",
        "|---|---|---|---|---|",
    ]
    for report in (one, two):
        rows.append(
            f"| {report['replicas']} | {report['conversations']} | {report['wall_s']:.2f} s | "
            f"{report['completed']}/{report['conversations']} | {report['lost']} |"
        )
    rows.append(f"\nratio (2 replicas, 2x the load) / (1 replica): {ratio:.2f}x (target <= 1.5x)")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=16, help="per replica (16)")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per model call (1.0)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="megrez-bench-replicas-") as folder:
        one, two = run(args.conversations, args.delay, Path(folder))
    print(markdown(one, two))
    ok = (
        one["completed"] == one["conversations"]
        and two["completed"] == two["conversations"]
        and one["lost"] == two["lost"] == 0
        and two["wall_s"] <= 1.5 * one["wall_s"]
    )
    print("\nPASS" if ok else "\nFAIL: expected all complete, none lost, ratio <= 1.5")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
