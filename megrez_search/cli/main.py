"""`megrez-search`: the one console command. Each area registers its own subcommands.

Errors meant for the user (`MegrezSearchError`) print as one line and exit with status 2;
anything unexpected prints one line too, with the traceback in the log file.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from ..errors import MegrezSearchError
from ..settings import Settings, get_settings

log = logging.getLogger("megrez_search")

#: Modules that add subcommands, in the order `--help` lists them.
AREA_COMMANDS = ("agent", "ui", "accounts", "retrieval", "eval", "runtime")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from `MEGREZ_*` env vars with the global CLI flags applied on top."""
    return get_settings(
        model=getattr(args, "model", None),
        data_dir=getattr(args, "data_dir", None),
        search=getattr(args, "provider", None),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="megrez-search",
        description="A self-hosted answer engine: search the web or a local index, read, "
        "and answer with numbered citations.",
    )
    parser.add_argument(
        "--model",
        help="model spec: embedded (default), PATH.gguf, HF-FOLDER, omni:PATH or "
        "openai:BASE_URL[#MODEL] (env MEGREZ_MODEL)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="models, indexes, caches, conversations (env MEGREZ_DATA_DIR)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    # Imported here so `--help` lists every area's commands while heavy libraries
    # (torch, llama.cpp, gradio) stay unimported until a command needs them.
    for name in AREA_COMMANDS:
        module = _optional_module(name)
        if module is not None:
            module.register(subparsers, settings_from_args)
    return parser


def _optional_module(name: str) -> ModuleType | None:
    import importlib

    try:
        return importlib.import_module(f"megrez_search.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"megrez_search.{name}":
            return None
        raise


def configure_logging(verbosity: int, log_dir: Path | None) -> None:
    """Log lines go to a file in the data dir; stderr shows only errors unless -v is given.

    The CLI prints each user-facing error itself as one `error:` line, so by default the
    terminal is not cluttered with the warnings that led to it — they are in the log file.
    """
    stderr_level = (
        logging.ERROR if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    )
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(stderr_level)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            # Rotated: `serve` and `ui` run for weeks and log every question.
            handler = logging.handlers.RotatingFileHandler(
                log_dir / "megrez-search.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
            )
        except OSError:
            handler = None  # an unwritable data dir must not stop the command
        if handler is not None:
            handler.setLevel(logging.INFO)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            root.addHandler(handler)
    # Libraries below us are chatty at INFO; keep them at WARNING unless -vv.
    for noisy in ("httpx", "httpcore", "trafilatura", "faster_whisper", "RapidOCR", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        log_dir = settings_from_args(args).data_dir / "logs"
    except MegrezSearchError as exc:  # a bad MEGREZ_* value: nothing can run without settings
        configure_logging(args.verbose, None)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.verbose, log_dir)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except MegrezSearchError as exc:
        log.info("command failed: %s", exc, exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, details in a log file
        log_path = _write_crash_log(args)
        print(
            f"error: unexpected failure ({type(exc).__name__}: {exc}); details in {log_path}",
            file=sys.stderr,
        )
        return 1


def _write_crash_log(args: argparse.Namespace) -> Path:
    try:
        log_dir = settings_from_args(args).data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
    except Exception:  # noqa: BLE001 - settings themselves may be what is broken
        log_dir = Path.cwd()
    path = log_dir / "crash.log"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(traceback.format_exc())
    return path


if __name__ == "__main__":
    sys.exit(main())
