"""Real HTTP servers on 127.0.0.1 for tests: a static directory server and a route server.

Both run `ThreadingHTTPServer` in a daemon thread on a free port and shut down on exit.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from retrieval.static_site import serve_folder


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


@contextmanager
def _running(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve `root` as static files (Last-Modified, If-Modified-Since); yields the base URL."""
    with serve_folder(root) as site:
        yield site.url.rstrip("/")


Route = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def serve_routes(routes: dict[str, Route]) -> Iterator[str]:
    """Serve `routes` (path -> function writing the whole response); 404 for the rest.

    A route function gets the request handler and writes status, headers and body itself,
    which lets tests misbehave precisely (trickle, lie about types, redirect in circles).
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _dispatch(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404)
                return
            try:
                route(self)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: exactly what some tests want

        do_GET = _dispatch
        do_POST = _dispatch

        def log_message(self, format: str, *args: object) -> None:
            pass

    with _running(_Server(("127.0.0.1", 0), Handler)) as base_url:
        yield base_url


def send(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    content_type: str = "text/html; charset=utf-8",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> None:
    """Write a complete response with Content-Length."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def redirect(location: str, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, b"", headers={"Location": location}, status=status)

    return route


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Poll `url` until it answers 200; fail at once (with the log) if the process dies."""
    with httpx.Client(timeout=2.0) as client:
        for _ in range(900):
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:  # waits between polls, and returns at once if the process has exited
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(
                f"{url}: server exited ({process.returncode}):\n{log_path.read_text()}"
            )
    raise RuntimeError(f"{url} did not answer within three minutes:\n{log_path.read_text()}")


@contextmanager
def record_requests() -> Iterator[tuple[str, list[str]]]:
    """A loopback listener that answers 404 and records the path of every request it gets:
    where a test points remote content that must never be loaded."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            seen.append(self.path)
            self.send_error(404)

        do_GET = do_POST = do_HEAD = _record

        def log_message(self, format: str, *args: object) -> None:
            pass

    with _running(_Server(("127.0.0.1", 0), Handler)) as base_url:
        yield base_url, seen
