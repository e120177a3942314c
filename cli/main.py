"""`megrez-search`: the one console command. Each area registers its own subcommands.

Errors meant for the user (`MegrezSearchError`) print as one line and exit with status 2;
anything unexpected prints one line too, with the traceback in the log file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from core.errors import MegrezSearchError
from core.settings import Settings, SettingsError, get_settings

from .logs import configure_logging, escape_surrogates

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
        return importlib.import_module(f"cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        data_dir = settings_from_args(args).store.data_dir
        _check_data_dir(data_dir)
    except MegrezSearchError as exc:  # a bad MEGREZ_* value: nothing can run without settings
        configure_logging(args.verbose, None)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log_dir = data_dir / "logs"
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
    except BrokenPipeError:  # the reader left (`| head`): nothing is wrong, and nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush too
        return 0
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, details in a log file
        where = _write_crash_log(log_dir)
        print(
            f"error: unexpected failure ({type(exc).__name__}: {exc}); details in {where}",
            file=sys.stderr,
        )
        return 1


def _check_data_dir(data_dir: Path) -> None:
    """A data dir that is (or lies inside) a file is a setting error, said before anything runs.

    A missing one is fine (it is created when needed), and so is a read-only one: commands
    that only read (search, fetch) still work.
    """
    for folder in (data_dir, *data_dir.parents):
        if folder.exists():
            if folder.is_dir():
                return
            raise SettingsError(
                f"the data dir {data_dir} cannot be used: {folder} is a file, not a folder; "
                "point --data-dir or MEGREZ_DATA_DIR at a folder"
            )


def _write_crash_log(log_dir: Path) -> str:
    """Where the traceback went: `crash.log` in the data dir's logs, never anywhere else."""
    details = escape_surrogates(traceback.format_exc())
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / "crash.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(details)
    except OSError:
        sys.stderr.write(details)  # the data dir cannot be written: the terminal is left
        return "the traceback above"
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
