"""Real `megrez-search` server processes (UI, API) on free loopback ports."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.settings import Settings
from tests.support.servers import free_port, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


@contextmanager
def megrez_process(
    command: list[str],
    settings: Settings,
    ready_path: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Run `python -m megrez_search --data-dir DIR COMMAND... --port P`; yields its base URL."""
    port = port or free_port()
    full_env = {
        **os.environ,
        "MEGREZ_ALLOW_HOSTS": settings.retrieval.allow_hosts,
        "MEGREZ_SEARCH": settings.retrieval.search,
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        **(env or {}),
    }
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "megrez_search",
                "--data-dir",
                str(settings.store.data_dir),
                *command,
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(process, base + ready_path, log_path)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
