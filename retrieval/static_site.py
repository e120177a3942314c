"""Serve a folder of files over HTTP on loopback: the offline "web" that the demo, the
evaluation and the tests search, fetch and index exactly like a real site.
"""

from __future__ import annotations

import errno
import functools
import logging
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

from core.errors import MegrezSearchError

log = logging.getLogger(__name__)


class StaticSiteError(MegrezSearchError):
    """The folder cannot be served (missing folder, port taken)."""

    def __init__(self, message: str, *, port_in_use: bool = False) -> None:
        super().__init__(message)
        self.port_in_use = port_in_use


class _QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real web server

    def log_message(self, format: str, *args: object) -> None:
        log.debug("static site: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # a crawl opens many connections at once


class StaticSite:
    """A running static file server (Last-Modified / If-Modified-Since included)."""

    def __init__(self, root: Path, server: ThreadingHTTPServer) -> None:
        self.root = root
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="static-site", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL with a trailing slash, e.g. `http://127.0.0.1:8799/`."""
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def serve_folder(root: Path, port: int = 0, host: str = "127.0.0.1") -> StaticSite:
    """Serve `root` on `host:port` (0 = any free port) in a daemon thread."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise StaticSiteError(f"folder not found: {root}")
    handler = functools.partial(_QuietHandler, directory=str(root))
    try:
        server = _Server((host, port), handler)
    except OSError as exc:
        raise StaticSiteError(
            f"cannot serve {root} on {host}:{port}: {exc.strerror or exc}",
            port_in_use=exc.errno == errno.EADDRINUSE,
        ) from exc
    return StaticSite(root, server)
