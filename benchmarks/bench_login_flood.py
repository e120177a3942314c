"""Login flood: how much does a flood of wrong passwords slow another, signed-in user?

`megrez-search ui` runs as its own process on loopback (accounts alice and bob; its model the
stand-in server, never called). Bob signs in; his page requests (`GET /config`, what a page
load fetches) are timed idle, then while 8 clients send 200 wrong passwords (half to alice,
half to made-up names; half of them with a made-up `X-Forwarded-For`). Reported: Bob's median
and slowest request idle and under the flood, the ratio of the medians, and how the 200
attempts were answered (400 = a password was hashed, 429 = throttled). Both modes run: the
sign-in as it is, and as it was before the throttle (argon2 on Gradio's event loop, every
attempt hashed), so the two ratios come from the same machine at the same time.

    .venv/bin/python -m benchmarks login_flood
    python benchmarks/bench_login_flood.py --only now
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import httpx

from accounts import Accounts
from accounts.throttle import LoginThrottle
from core.settings import Settings
from store import Store, open_database
from tests.support.servers import free_port, wait_until_serving
from tests.support.standin_model import serve_standin_model
from ui.login import LoginGuard

ATTEMPTS, CLIENTS, IDLE_SAMPLES = 200, 8, 40


def _unthrottled(store: Store, settings: Settings) -> LoginGuard | None:
    """The sign-in as it was: no throttle, and argon2 on the event loop (a sync `auth`)."""
    from ui.login import _verified, login_guard

    guard = login_guard(store, settings)
    if guard is None:
        return None
    guard.throttle = LoginThrottle(free_failures=10**9)
    accounts = guard.accounts

    def check(name: str, password: str) -> bool:
        login = accounts.verify(name, password)
        if login is not None:
            _verified.set(login)  # what the session table binds a new session to
        return login is not None

    guard.check = check  # type: ignore[assignment,method-assign]
    return guard


def serve_before(argv: list[str]) -> int:
    """`megrez-search ARGV` with the sign-in of before the throttle (the server process)."""
    import ui.launch as ui_launch
    from cli.main import main as cli

    ui_launch.login_guard = _unthrottled  # type: ignore[assignment]
    return cli(argv)


@contextmanager
def _ui(folder: Path, before: bool) -> Iterator[str]:
    settings = Settings(data_dir=folder / "data")
    database = open_database(settings.store)
    for name in ("alice", "bob"):
        Accounts(database).add(name, f"{name}-password")
    database.close()
    port = free_port()
    code = (
        "import sys, benchmarks.bench_login_flood as b; sys.exit(b.serve_before(sys.argv[1:]))"
        if before
        else "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    command = [sys.executable, "-c", code, "--data-dir", str(settings.store.data_dir), "ui"]
    log_path = folder / "ui.log"
    with serve_standin_model() as model, log_path.open("w") as log:
        env = {**os.environ, "MEGREZ_MODEL": model.spec, "GRADIO_ANALYTICS_ENABLED": "False"}
        process = subprocess.Popen(
            [*command, "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(process, base + "/", log_path)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def _timed(client: httpx.Client) -> float:
    started = time.perf_counter()
    client.get("/config").raise_for_status()
    return time.perf_counter() - started


def _flood(base: str, client: int) -> list[int]:
    """One of the clients: its share of the attempts, one after another."""
    answers = []
    with httpx.Client(base_url=base, timeout=120) as http:
        for attempt in range(client, ATTEMPTS, CLIENTS):
            spoofed = {"X-Forwarded-For": f"198.51.100.{attempt % 250}"} if attempt % 4 < 2 else {}
            name = "alice" if attempt % 2 else f"guess{attempt}"
            form = {"username": name, "password": f"wrong-{attempt}"}
            answers.append(http.post("/login", data=form, headers=spoofed).status_code)
    return answers


def run(before: bool) -> dict[str, float | str]:
    with (
        tempfile.TemporaryDirectory(prefix="megrez-bench-login-") as folder,
        _ui(Path(folder), before) as base,
    ):
        bob = httpx.Client(base_url=base, timeout=120)
        bob.post("/login", data={"username": "bob", "password": "bob-password"})
        _timed(bob)  # warm up
        idle = [_timed(bob) for _ in range(IDLE_SAMPLES)]
        done = threading.Event()
        flooded: list[float] = []

        def measure() -> None:
            while not done.is_set() or len(flooded) < IDLE_SAMPLES // 4:
                flooded.append(_timed(bob))

        meter = threading.Thread(target=measure)
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            meter.start()
            per_client = pool.map(lambda client: _flood(base, client), range(CLIENTS))
            answers = Counter(code for codes in per_client for code in codes)
        flood_s = time.perf_counter() - started
        done.set()
        meter.join()
    idle_median, flood_median = statistics.median(idle), statistics.median(flooded)
    return {
        "mode": "before: no throttle, hashed on the loop" if before else "now: throttled",
        "idle_median_ms": idle_median * 1000,
        "idle_max_ms": max(idle) * 1000,
        "flood_median_ms": flood_median * 1000,
        "flood_max_ms": max(flooded) * 1000,
        "ratio": flood_median / idle_median,
        "flood_s": flood_s,
        "answers": ", ".join(f"{code}: {count}" for code, count in sorted(answers.items())),
    }


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("now", "before"), help="run one mode only")
    args = parser.parse_args(argv)
    modes = [mode for mode in ("now", "before") if args.only in (None, mode)]
    lines = [
        "| sign-in | Bob idle: median / max | under the flood: median / max | ratio (medians) | "
        + "flood took | 200 attempts answered |",
        "|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for mode in modes:
        row = run(before=mode == "before")
        line = (
            f"| {row['mode']} | {row['idle_median_ms']:.1f} / {row['idle_max_ms']:.0f} ms | "
            f"{row['flood_median_ms']:.1f} / {row['flood_max_ms']:.0f} ms | "
            f"{row['ratio']:.2f}x | {row['flood_s']:.1f} s | {row['answers']} |"
        )
        print(line, flush=True)
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
