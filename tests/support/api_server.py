"""The OpenAI-compatible API over a scripted model, served for real on loopback.

`serve_app(app)` runs a FastAPI app under uvicorn in a thread of the test process;
`python -m tests.support.api_server DATA_DIR PORT` is the same API as a separate process, and
`hold_a_turn` a child process stuck mid-answer (for tests of several processes on one data
dir); the scripted stand-in of tests/support/scripted.py replaces the model, so no weights load.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from agent.api import AskRequest, SearchAgent
from core.settings import Settings
from runtime import Runtime
from tests.support.scripted import ScriptedModel, Stall
from tests.support.servers import free_port
from wiring import search_agent

ANSWER = "Scripted answer."


def scripted_agent(settings: Settings, turns: int = 1000) -> tuple[SearchAgent, ScriptedModel]:
    """An agent whose model answers `ANSWER` to each of up to `turns` questions."""
    model = ScriptedModel([ANSWER] * turns, dialect="generic")
    return search_agent(settings, Runtime(model, settings)), model


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """Serve `app` on a free loopback port; yields the base URL (`http://127.0.0.1:P`)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    ready = threading.Event()
    try:
        while not server.started:  # set by uvicorn once the socket listens
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            ready.wait(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class _Signalling(ScriptedModel):
    """Sets `started` when its (stalling) answer begins, so a test knows the turn is held."""

    def __init__(self, started: Any, release: Any) -> None:
        super().__init__([Stall("Held answer.", release=release)], dialect="generic")
        self.started = started

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        self.started.set()
        yield from super().stream(*args, **kwargs)


def hold_a_turn(data_dir: str, thread_id: str, started: Any, release: Any) -> None:
    """In a child process: one turn in `thread_id` whose answer stalls until `release`."""
    settings = Settings(data_dir=Path(data_dir), search="local:none")
    model = _Signalling(started, release)
    with search_agent(settings, Runtime(model, settings)) as agent:
        agent.invoke(AskRequest("Held question?", thread_id=thread_id, search=False))


def main() -> None:
    from server.app import serve_api

    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    settings = Settings(data_dir=data_dir, search="local:none", turn_wait_s=60.0)
    agent, _ = scripted_agent(settings)
    serve_api(settings, host="127.0.0.1", port=port, agent=agent)


if __name__ == "__main__":
    main()
