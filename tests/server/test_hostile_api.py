"""The hostile API suite (issue 15): what a hostile or broken client can send to the
OpenAI-compatible API, over real loopback HTTP and a scripted model.

Every malformed request is a 4xx in OpenAI's error shape naming no server path, a client
that leaves early leaves nothing behind, two server processes writing one conversation keep
all of its turns, and the server answers the next request after each.
"""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from accounts import Accounts
from agent.api import SearchAgent
from core.settings import Settings
from runtime import Runtime
from server.app import create_api
from store import open_database
from tests.support.api_server import ANSWER, scripted_agent, serve_app
from tests.support.postgres import create_database
from tests.support.processes import megrez_process
from tests.support.scripted import ScriptedModel, Stall
from tests.support.servers import free_port, wait_until_serving
from tests.support.standin_model import serve_standin_model
from wiring import retrieval_policy, search_agent

REPO = Path(__file__).resolve().parents[2]


def hostile_settings(data_dir: Path) -> Settings:
    # One turn at a time: the next request starts only once the previous turn has ended,
    # which is how the disconnect tests know the abandoned turn is over.
    return Settings(data_dir=data_dir, search="local:none", ui_concurrency=1, max_upload_mb=1)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SearchAgent]]:
    settings = hostile_settings(tmp_path_factory.mktemp("hostile"))
    agent, _ = scripted_agent(settings)
    with serve_app(create_api(agent, settings)) as base:
        yield base, agent
    agent.close()


def user(content: object) -> dict[str, object]:
    return {"model": "megrez-search", "messages": [{"role": "user", "content": content}]}


def file_part(filename: str | None, file_data: str) -> dict[str, object]:
    """A `file` content part as the openai client sends it."""
    return {"type": "file", "file": {"filename": filename, "file_data": file_data}}


PNG_NOT = base64.b64encode(b"hello, not an image").decode()
MALFORMED: list[tuple[str, bytes | dict[str, object]]] = [
    ("not JSON", b"{"),
    ("a JSON array", b"[]"),
    ("a JSON string", b'"hi"'),
    ("JSON null", b"null"),
    ("invalid UTF-8", b'{"messages": "\xff\xfe"}'),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000),
    ("messages not a list", {"messages": "hi"}),
    ("message without role", {"messages": [{"content": "hi"}]}),
    ("content a number", user(5)),
    (
        "image_url a string",
        user([{"type": "image_url", "image_url": "data:image/png;base64,AA=="}]),
    ),
    ("input_audio a string", user([{"type": "input_audio", "input_audio": "UklGRg=="}])),
    ("text part without text", user([{"type": "text"}])),
    ("text part with a number", user([{"type": "text", "text": 5}])),
    ("part a string", user(["just text"])),
    ("part without type", user([{"text": "hi"}])),
    ("unknown part type", user([{"type": "video", "video": {}}])),
    ("image url not an object field", user([{"type": "image_url", "image_url": {"u": 1}}])),
    ("lone surrogate", b'{"messages": [{"role": "user", "content": "\\ud800"}]}'),
    (
        "lone surrogate in a part",
        b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "a\\udfffb"}]}]}',
    ),
    (
        "surrogate in history",
        (
            b'{"messages": [{"role": "user", "content": "\\udc80"}, '
            b'{"role": "assistant", "content": "x"}, {"role": "user", "content": "q?"}]}'
        ),
    ),
    (
        "surrogate in thread_id",
        b'{"thread_id": "\\ud800", "messages": [{"role": "user", "content": "q?"}]}',
    ),
    ("NUL in content", user("what\u0000is this?")),
    ("NUL in thread_id", {**user("q?"), "thread_id": "a\u0000b"}),
    ("empty thread_id", {**user("q?"), "thread_id": ""}),
    ("huge thread_id", {**user("q?"), "thread_id": "t" * 10_000}),
    ("stream not a bool", {**user("q?"), "stream": "yes please"}),
    ("stream a string", {**user("q?"), "stream": "yes"}),
    ("stream a number", {**user("q?"), "stream": 1}),
    ("search a string", {**user("q?"), "search": "false"}),
    ("pages not a number", {**user("q?"), "pages": "many"}),
    ("pages a bool", {**user("q?"), "pages": True}),
    ("pages a numeric string", {**user("q?"), "pages": "3"}),
    ("pages a float", {**user("q?"), "pages": 2.0}),
    ("pages out of range", {**user("q?"), "pages": 0}),
    ("provider with a URL", {**user("q?"), "provider": "searxng:http://[::1]:9/admin?x="}),
    ("last message not the user's", {"messages": [{"role": "assistant", "content": "hi"}]}),
    ("empty question", user("   ")),
    (
        "image not base64",
        user([{"type": "image_url", "image_url": {"url": "data:image/png;base64,!!"}}]),
    ),
    (
        "remote image",
        user([{"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/x.png"}}]),
    ),
    (
        "image not an image",
        user([{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_NOT}"}}]),
    ),
    (
        "audio not audio",
        user([{"type": "input_audio", "input_audio": {"data": PNG_NOT, "format": "wav"}}]),
    ),
    ("file part a string", user([{"type": "file", "file": "report.pdf"}])),
    ("file by id", user([{"type": "file", "file": {"file_id": "file-abc123"}}])),
    ("file without a name", user([file_part(None, "data:text/plain;base64,aGk=")])),
    ("file named like a path", user([file_part("../../etc/passwd", "aGk=")])),
    ("file named with a backslash", user([file_part("..\\boot.ini", "aGk=")])),
    ("file name with a newline", user([file_part("a\nb.txt", "aGk=")])),
    ("file not base64", user([file_part("notes.txt", "data:text/plain;base64,!!")])),
    ("file a remote URL", user([file_part("notes.txt", "http://127.0.0.1:1/notes.txt")])),
    ("collections a string", {**user("q?"), "collections": "notes"}),
    ("collection name empty", {**user("q?"), "collections": [" "]}),
    ("collection name with NUL", {**user("q?"), "collections": ["a\u0000b"]}),
]


@pytest.mark.parametrize(("name", "body"), MALFORMED, ids=[name for name, _ in MALFORMED])
def test_malformed_requests_are_openai_400s(
    api: tuple[str, SearchAgent], name: str, body: bytes | dict[str, object]
) -> None:
    base, agent = api
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = httpx.post(
        f"{base}/v1/chat/completions",
        content=content,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 400, (name, reply.status_code, reply.text[:300])
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "code"} and error["type"] == "invalid_request_error"
    assert "/tmp" not in error["message"] and "megrez-api-" not in error["message"], error
    assert "Traceback" not in reply.text
    # The server is still there, and the refused request left no conversation.
    assert httpx.get(f"{base}/v1/models").status_code == 200
    assert agent.threads() == []


def test_unknown_model_and_huge_bodies(api: tuple[str, SearchAgent]) -> None:
    base, _ = api
    unknown = httpx.post(f"{base}/v1/chat/completions", json={**user("q?"), "model": "gpt-4"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    huge = httpx.post(f"{base}/v1/chat/completions", json=user("x" * 2_000_000))
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
    fine = httpx.post(f"{base}/v1/chat/completions", json=user("Still there?"), timeout=30)
    assert fine.status_code == 200 and fine.json()["choices"][0]["message"]["content"] == ANSWER


def _raw_request(base: str, body: dict[str, object]) -> socket.socket:
    """Send a POST by hand, so the test decides when the connection drops."""
    host, port = base.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


@pytest.mark.parametrize("stream", [True, False])
def test_stateless_requests_leave_nothing_even_when_the_client_leaves(
    tmp_path: Path, stream: bool
) -> None:
    """Issue 15 item 3: the old server stored `api-*` threads and deleted them afterwards,
    which a client that left early skipped (and they were listed while the turn ran)."""
    settings = hostile_settings(tmp_path)
    stall = Stall("A partial answer that")
    model = ScriptedModel([stall, "The next answer."], dialect="generic")
    agent = search_agent(settings, Runtime(model, settings))
    with serve_app(create_api(agent, settings)) as base:
        sock = _raw_request(base, {**user("What is lru_cache?"), "stream": stream})
        if stream:
            assert b"partial" in _read_until(sock, b"partial")  # mid-answer
        else:
            _wait_for(lambda: any(call.sampling for call in model.calls))  # the model writes
        assert agent.threads() == []
        sock.close()  # the client leaves
        stall.release.set()
        # One turn at a time (ui_concurrency=1): this one starts after the abandoned one ended.
        after = httpx.post(f"{base}/v1/chat/completions", json=user("Next?"), timeout=30)
        assert after.status_code == 200
    assert agent.threads() == []
    agent.close()
    with sqlite3.connect(settings.store.conversations_path) as db:
        assert db.execute("SELECT count(*) FROM checkpoints").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM writes").fetchone() == (0,)


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            break
        seen += chunk
    return seen


def _wait_for(condition: object) -> None:
    done = threading.Event()
    for _ in range(1500):
        if condition():  # type: ignore[operator]
            return
        done.wait(0.02)
    raise AssertionError("condition not reached")


def test_two_server_processes_on_one_conversation_keep_every_turn(tmp_path: Path) -> None:
    """Issue 15 item 2: `ui` and `serve` (here two `serve`s) on one data dir; 4+4 concurrent
    turns on one thread. The old per-process lock let them overwrite each other's turns."""
    data_dir = tmp_path / "data"
    processes, bases = [], []
    try:
        for index in range(2):
            port = free_port()
            log = tmp_path / f"serve-{index}.log"
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.support.api_server", str(data_dir), str(port)],
                    cwd=REPO,
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
            wait_until_serving(processes[-1], bases[-1] + "/health", log)

        def ask(n: int) -> int:
            body = {**user(f"Question {n}?"), "thread_id": "shared"}
            reply = httpx.post(f"{bases[n % 2]}/v1/chat/completions", json=body, timeout=120)
            return reply.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(ask, range(8)))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    assert statuses == [200] * 8
    settings = Settings(data_dir=data_dir, search="local:none")
    with search_agent(settings, Runtime(ScriptedModel([]), settings)) as agent:
        turns = agent.turns("shared")
        (info,) = agent.threads()
    assert info.turns == 8 and len(turns) == 16
    assert sorted(t["content"] for t in turns if t["role"] == "user") == sorted(
        f"Question {n}?" for n in range(8)
    )
    assert [t["role"] for t in turns] == ["user", "assistant"] * 8


def test_a_busy_conversation_is_a_409_and_stays_whole(tmp_path: Path) -> None:
    """A second writer of a thread that is mid-answer gets OpenAI's error shape with 409
    (here with no waiting allowed), and the first turn completes untouched."""
    settings = hostile_settings(tmp_path).replace(ui_concurrency=2, turn_wait_s=0.0)
    stall = Stall("The first answer")
    model = ScriptedModel([stall, "The third answer."], dialect="generic")
    agent = search_agent(settings, Runtime(model, settings))
    with serve_app(create_api(agent, settings)) as base:
        body = {**user("First?"), "thread_id": "t", "search": False, "stream": True}
        sock = _raw_request(base, body)
        assert b"first" in _read_until(sock, b"first")
        busy = httpx.post(f"{base}/v1/chat/completions", json={**user("Second?"), "thread_id": "t"})
        assert busy.status_code == 409
        assert busy.json()["error"]["code"] == "thread_busy"
        stall.release.set()
        assert b"[DONE]" in _read_until(sock, b"[DONE]")
        sock.close()
        third = httpx.post(
            f"{base}/v1/chat/completions",
            json={**user("Third?"), "thread_id": "t", "search": False},
            timeout=30,
        )
        assert third.status_code == 200
    turns = agent.turns("t")
    agent.close()
    assert [t["content"] for t in turns if t["role"] == "user"] == ["First?", "Third?"]


class _BrokenAgent(SearchAgent):
    def stream(self, request, *, cancel=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("cannot open /srv/secret/conversations.sqlite")


def test_a_server_bug_is_an_openai_500_without_details(tmp_path: Path) -> None:
    settings = hostile_settings(tmp_path)
    runtime = Runtime(ScriptedModel([]), settings)
    agent = _BrokenAgent(settings, runtime, retrieval=retrieval_policy(settings))
    with serve_app(create_api(agent, settings)) as base:
        reply = httpx.post(f"{base}/v1/chat/completions", json=user("q?"))
        assert reply.status_code == 500
        error = reply.json()["error"]
        assert error["type"] == "server_error" and "/srv/secret" not in error["message"]
        assert httpx.get(f"{base}/v1/models").status_code == 200
    agent.close()


def test_a_nul_in_the_login_name_is_a_wrong_login_on_postgres(
    postgres_server: str, tmp_path: Path
) -> None:
    """The UI's login page on PostgreSQL: a NUL in the name was a 500 with psycopg's traceback
    (SQLite matched nothing: a 400); now it is the wrong login it is on both."""
    url = create_database(postgres_server)
    settings = Settings(data_dir=tmp_path / "data", database_url=SecretStr(url))
    database = open_database(settings.store)
    Accounts(database).add("alice", "alice-password")
    database.close()
    with serve_standin_model() as model:
        env = {"MEGREZ_DATABASE_URL": url, "MEGREZ_MODEL": model.spec}
        with megrez_process(["ui"], settings, "/", tmp_path / "ui.log", env) as base:

            def log_in(username: str) -> httpx.Response:
                form = {"username": username, "password": "alice-password"}
                return httpx.post(f"{base}/login", data=form, timeout=30)

            refused = log_in("al\x00ice")
            assert refused.status_code == 400, refused.text[:300]
            assert "Traceback" not in refused.text and "psycopg" not in refused.text
            assert log_in("alice").status_code == 200  # the page and its database still work
    assert "DataError" not in (tmp_path / "ui.log").read_text()
