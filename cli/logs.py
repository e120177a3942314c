"""The CLI's logging: errors on stderr (more with -v), everything in the data dir's log file.

Text from the command line or the file system may hold lone surrogates (Python's stand-in for
bytes of a file name that are not UTF-8, e.g. `--image $'\\xff.png'`), which no UTF-8 stream
can write: every handler's formatter escapes them (`\\udcff`), so such a record is logged
instead of replaced by a "--- Logging error ---" traceback.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LOG_FILE = "megrez-search.log"
_NOISY = ("httpx", "httpcore", "trafilatura", "faster_whisper", "RapidOCR", "urllib3")


class EscapingFormatter(logging.Formatter):
    """A formatter whose lines are always valid UTF-8: lone surrogates become `\\udcXX`."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_surrogates(super().format(record))


def escape_surrogates(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
    console.setFormatter(EscapingFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            # Rotated: `serve` and `ui` run for weeks and log every question.
            handler = logging.handlers.RotatingFileHandler(
                log_dir / LOG_FILE, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
            )
        except OSError:
            handler = None  # an unwritable data dir must not stop the command
        if handler is not None:
            handler.setLevel(logging.INFO)
            handler.setFormatter(
                EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            root.addHandler(handler)
    # Libraries below us are chatty at INFO; keep them at WARNING unless -vv.
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
