"""Build the `local:docs` index of the Python docs served on loopback, with the real CLI.

A full crawl + extraction of ~530 pages takes tens of seconds, so the finished index is kept
in pytest's cache keyed by the retrieval code and the docs; the next session copies it, moves
its URLs to the new server port, and runs `megrez-search index` again, which then really
re-crawls the site and re-extracts only what changed (nothing, normally). Set
MEGREZ_TEST_FRESH_INDEX=1 to force a full build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INDEX_NAME = "docs"
ALLOW_HOSTS = "127.0.0.1,localhost"
TEST_MODEL = "embedded:tiny"  # the fast rung of the embedded ladder (SmolLM2-135M)
# Every module of the retrieval layer (passage splitting included) keys the cached index: a
# hand-picked list went stale when one it omitted changed what the index holds.
_CODE_DIRS = ("retrieval",)


def run_cli(
    *args: str,
    data_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    cwd: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    """`megrez-search --data-dir DATA ARGS...` as a subprocess (`python -m megrez_search`).

    Inherited `MEGREZ_*` variables are dropped so a developer's own configuration (another
    model, another provider) cannot change what a test runs; the model is `TEST_MODEL`
    (tiny, fast); `env` adds what the test needs.
    """
    return subprocess.run(
        [sys.executable, "-m", "megrez_search", "--data-dir", str(data_dir), *args],
        check=False,
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without `MEGREZ_*`, trusting loopback, offline, plus `extra`.
    A native crash prints every thread's Python stack (a fresh clone's eval once aborted on
    "munmap_chunk(): invalid pointer" with nothing else to go on)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEGREZ_")},
        "MEGREZ_ALLOW_HOSTS": ALLOW_HOSTS,
        "MEGREZ_MODEL": TEST_MODEL,
        "HF_HUB_OFFLINE": "1",
        "PYTHONFAULTHANDLER": "1",
        **(extra or {}),
    }


def cache_key(docs_root: Path) -> str:
    digest = hashlib.sha256()
    for folder in _CODE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            digest.update(path.relative_to(REPO).as_posix().encode())
            digest.update(path.read_bytes())
    pages = sorted(docs_root.rglob("*.html"))
    digest.update(f"{docs_root}:{len(pages)}:{max(p.stat().st_mtime_ns for p in pages)}".encode())
    return digest.hexdigest()[:16]


def _move_base(index_file: Path, new_base: str) -> None:
    """Point a cached index at a server on another port (URLs are stored absolute)."""
    with closing(sqlite3.connect(index_file)) as db:
        old_base = db.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()[0]
        db.execute(
            "UPDATE docs SET url = ? || substr(url, ?), links = replace(links, ?, ?)",
            (new_base, len(old_base) + 1, old_base, new_base),
        )
        db.execute("UPDATE meta SET value = ? WHERE key = 'source'", (new_base,))
        db.commit()


def build_docs_index(
    docs_root: Path, base_url: str, data_dir: Path, cache_dir: Path | None
) -> float:
    """Index `base_url` as local:docs under `data_dir`; returns the seconds `index` took."""
    source = base_url.rstrip("/") + "/"
    index_file = data_dir / "indexes" / f"{INDEX_NAME}.sqlite"
    cached = cache_dir / f"{cache_key(docs_root)}.sqlite" if cache_dir else None
    fresh = os.environ.get("MEGREZ_TEST_FRESH_INDEX") == "1"
    if cached is not None and cached.exists() and not fresh:
        index_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(cached, index_file)
            _move_base(index_file, source)
        except (OSError, sqlite3.Error):  # replaced under our feet: build from scratch
            index_file.unlink(missing_ok=True)
    started = time.perf_counter()
    result = run_cli("index", source, "--name", INDEX_NAME, "--no-progress", data_dir=data_dir)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"`megrez-search index` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    if cached is not None and (fresh or not cached.exists()):
        # Several pytest sessions may share the cache: write atomically, tolerate races.
        cached.parent.mkdir(parents=True, exist_ok=True)
        for old in cached.parent.glob("*.sqlite"):
            if old != cached:
                old.unlink(missing_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(index_file, partial)
        os.replace(partial, cached)
    return seconds
