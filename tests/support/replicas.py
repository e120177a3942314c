"""`megrez-search serve` replicas as real processes, for tests and benchmarks.

`Replica` is one `python -m megrez_search serve` on a free loopback port with the given
environment (e.g. `MEGREZ_DATABASE_URL` and `MEGREZ_MODEL`); `kill()` is a `kill -9`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port, wait_until_serving

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:PORT

    @classmethod
    def start(cls, data_dir: Path, env: dict[str, str], log_path: Path) -> Replica:
        port = free_port()
        full_env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            **env,
        }
        with log_path.open("a") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "megrez_search", "--data-dir", str(data_dir)]
                + ["serve", "--port", str(port)],
                cwd=REPO,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        replica = cls(process, f"http://127.0.0.1:{port}")
        try:
            wait_until_serving(process, replica.base + "/health", log_path)
        except BaseException:
            replica.stop()
            raise
        return replica

    def kill(self) -> None:
        """`kill -9`: no shutdown code runs."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
