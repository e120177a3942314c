"""A conversation turn in a child process, to `kill -9` while the model is writing.

`kill_mid_turn(settings, thread_id, completed)` runs this module as a process on the same
store (SQLite in the data dir, or the PostgreSQL of `settings.store.database_url`): it asks
`completed` questions that finish ("Question 0?" -> "Answer 0." ...), then one whose answer
stalls after its first words; once that answer has begun, the process is killed with SIGKILL,
so no shutdown or cleanup code of the agent runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from core.settings import Settings
from wiring import search_agent

REPO = Path(__file__).resolve().parents[2]
MID_TURN = "mid-turn"


def kill_mid_turn(settings: Settings, thread_id: str, completed: int) -> None:
    env = {
        **os.environ,
        "MEGREZ_DATABASE_URL": settings.store.database_url.get_secret_value(),
        "HF_HUB_OFFLINE": "1",
    }
    log_path = settings.store.data_dir.parent / f"turn-to-kill-{thread_id}.log"
    settings.store.data_dir.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.turn_to_kill"]
            + [str(settings.store.data_dir), thread_id, str(completed)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the child says when its answer has begun
        assert line.strip() == MID_TURN, f"the turn never started: {log_path.read_text()[-2000:]}"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _main() -> None:
    from agent.api import AskRequest
    from agent.events import TokenEvent
    from runtime import Runtime
    from tests.support.scripted import ScriptedModel, Stall

    data_dir, thread_id, completed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    settings = Settings(data_dir=data_dir, search="local:none")
    answers = [f"Answer {n}." for n in range(completed)]
    model = ScriptedModel([*answers, Stall("The answer so")], dialect="generic")
    agent = search_agent(settings, Runtime(model, settings))
    for n in range(completed):
        agent.invoke(AskRequest(f"Question {n}?", search=False, thread_id=thread_id))
    killed = AskRequest("The killed question?", search=False, thread_id=thread_id)
    for event in agent.stream(killed):
        if isinstance(event, TokenEvent):
            print(MID_TURN, flush=True)
            threading.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    _main()
