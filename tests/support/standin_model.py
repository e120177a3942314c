"""A stand-in model server in OpenAI's wire format, for processes that talk `openai:` to it.

`serve_standin_model(delay_s)` runs a threaded loopback HTTP server answering `GET /v1/models`
and `POST /v1/chat/completions` (plain and server-sent events) after a fixed delay per call,
without serialising calls (like a batching server such as vLLM). The answer names how many
user messages the request carried and quotes the last one — "Answer 2 to: And then?" — so a
test sees whether a replica gave the model the conversation's earlier turns. A question with
`[slow]` in it waits `SLOW_S` instead and sets `slow_started` first: a turn to kill mid-way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Event, Thread
from typing import Any

MODEL_ID = "standin"
SLOW_MARK = "[slow]"
SLOW_S = 120.0


def answer_for(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    last = users[-1].get("content") if users else ""
    if isinstance(last, list):
        last = " ".join(str(p.get("text", "")) for p in last if isinstance(p, dict))
    return f"Answer {len(users)} to: {str(last).strip()[:60]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandinServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": MODEL_ID, "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": "not found"}})
            return
        self.server.calls += 1
        text = answer_for(request.get("messages") or [])
        if SLOW_MARK in text:
            self.server.slow_started.set()
            time.sleep(SLOW_S)
        time.sleep(self.server.delay_s)  # the model's fixed time per call
        usage = {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}
        base = {"id": "standin", "created": int(time.time()), "model": MODEL_ID}
        if not request.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}}
            self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [{**choice, "finish_reason": "stop"}],
                    "usage": usage,
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        pieces = [word + " " for word in text.split(" ")]
        pieces[-1] = pieces[-1].rstrip()
        for piece in pieces:
            chunk = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        end = {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": usage,
        }
        self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        self.close_connection = True


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, delay_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay_s = delay_s
        self.calls = 0
        self.slow_started = Event()
        host, port = self.server_address[:2]
        self.spec = f"openai:http://{host}:{port}/v1#{MODEL_ID}"


@contextmanager
def serve_standin_model(delay_s: float = 0.0) -> Iterator[StandinServer]:
    """A running stand-in; its `spec` is the model spec `openai:http://127.0.0.1:PORT/v1#standin`."""
    server = StandinServer(delay_s)
    thread = Thread(target=server.serve_forever, name="standin-model", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
