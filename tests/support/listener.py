"""A loopback listener that records every request it gets: where a payload that ran in a
browser would send its findings. A test asserts it heard nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.support.servers import _running, _Server


@dataclass
class Listener:
    url: str = ""
    heard: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, line: str) -> None:
        with self._lock:
            self.heard.append(line)


@contextmanager
def serve_listener() -> Iterator[Listener]:
    """A running listener; each request's method and path lands in `heard` (answered 204)."""
    listener = Listener()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            listener.record(f"{self.command} {self.path}")
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_OPTIONS = _any

        def log_message(self, format: str, *args: object) -> None:
            pass

    with _running(_Server(("127.0.0.1", 0), Handler)) as url:
        listener.url = url
        yield listener
