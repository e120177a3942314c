"""CLI commands of the UI layer: `ui` (browser chat), `serve` (OpenAI-compatible API), `demo`.

`cli` calls `register(subparsers, settings_from_args)`; handlers return an exit
code and raise `MegrezSearchError` for user errors. Gradio, FastAPI and the agent are imported
inside the handlers so `megrez-search --help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys

from cli import SettingsFromArgs
from core.settings import Settings

log = logging.getLogger(__name__)


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError("must be between 1 and 65535")
    return value


def _server_flags(
    parser: argparse.ArgumentParser, default_port: str, provider: bool = True
) -> None:
    parser.add_argument("--host", help="address to listen on (default: MEGREZ_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=_port, help=f"port to listen on (default: {default_port})")
    if provider:
        parser.add_argument(
            "--provider",
            help="default search provider chain, e.g. 'ddg' or 'local:docs' "
            "(default: MEGREZ_SEARCH)",
        )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="allow a non-loopback --host with no accounts: everyone shares one user (unsafe)",
    )


def _listen_on(args: argparse.Namespace, settings: Settings, default_port: int) -> tuple[str, int]:
    """The address to listen on (flags over settings), refused when it is unauthenticated
    beyond loopback (see accounts)."""
    from accounts import Accounts, check_exposure, is_loopback
    from store import open_database

    host, port = args.host or settings.server.host, args.port or default_port
    if is_loopback(host):
        return host, port
    database = open_database(settings.store)
    try:
        has_users = Accounts(database).has_users()
    finally:
        database.close()
    warning = check_exposure(host, has_users, getattr(args, "no_auth", False))
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return host, port


def register(subparsers: argparse._SubParsersAction, settings_from_args: SettingsFromArgs) -> None:
    """Add the `ui`, `serve` and `demo` subcommands."""
    ui = subparsers.add_parser(
        "ui",
        help="start the browser chat (Gradio)",
        description="Chat with the agent in the browser: streaming answers with cited sources, "
        "web search on/off, image and voice questions, past chats kept across restarts.",
    )
    _server_flags(ui, "MEGREZ_PORT, 7860")
    ui.set_defaults(handler=lambda args: run_ui(args, settings_from_args(args)))

    serve = subparsers.add_parser(
        "serve",
        help="serve an OpenAI-compatible API (/v1/chat/completions, /v1/models)",
        description="Any OpenAI client can use the agent: model 'megrez-search' searches, "
        "'megrez-search-nosearch' does not; sources come in the response's 'sources' field.",
    )
    _server_flags(serve, "MEGREZ_API_PORT, 8000")
    serve.set_defaults(handler=lambda args: run_serve(args, settings_from_args(args)))

    demo = subparsers.add_parser(
        "demo",
        help="offline demo: index the Python docs served on loopback and start the UI on them",
        description="Needs Debian's python3.11-doc. Serves its HTML on 127.0.0.1, builds the "
        "local index 'pydocs' the first time, and starts the UI searching local:pydocs.",
    )
    _server_flags(demo, "MEGREZ_PORT, 7860", provider=False)
    demo.add_argument("--reindex", action="store_true", help="update the index even if it exists")
    demo.set_defaults(handler=lambda args: run_demo(args, settings_from_args(args)))


def run_ui(args: argparse.Namespace, settings: Settings) -> int:
    from ui.launch import launch_ui

    host, port = _listen_on(args, settings, settings.server.port)
    print(f"Megrez Search UI on http://{host}:{port} (Ctrl+C to stop)", flush=True)
    launch_ui(settings, host, port)
    return 0


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from server.app import serve_api

    host, port = _listen_on(args, settings, settings.server.api_port)
    print(f"Megrez Search API on http://{host}:{port}/v1 (Ctrl+C to stop)", flush=True)
    serve_api(settings, host, port)
    return 0


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ui.demo import prepare_demo
    from ui.launch import launch_ui

    host, port = _listen_on(args, settings, settings.server.port)
    demo = prepare_demo(settings, reindex=args.reindex)
    print(
        f"Demo: searching {demo.provider} (Python docs served at {demo.docs_url}); "
        f"UI on http://{host}:{port} (Ctrl+C to stop)",
        flush=True,
    )
    try:
        launch_ui(demo.settings, host, port)
    finally:
        demo.close()
    return 0
