"""A real PostgreSQL server for tests, from Debian's `postgresql` package.

`running_postgres(folder)` runs `initdb` into a temp folder and `postgres` on a free loopback
port (its socket in that folder too), as the `postgres` system user when the tests run as root
(PostgreSQL refuses to run as root; CI runs as root). Trust authentication: it listens on
127.0.0.1 only and lives as long as the test session. `create_database` gives each test its
own empty database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def running_postgres(folder: Path) -> Iterator[str]:
    """Yield the admin URL (`postgresql://postgres@127.0.0.1:PORT/postgres`) of a fresh server."""
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError(
            f"PostgreSQL is not installed ({PG_BIN}): apt-get install postgresql (make test-deps)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        folder.chmod(0o755)
        for parent in folder.parents:  # the server user must reach its folder
            if parent == Path("/") or parent == Path(os.sep):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        _as_server_user(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    log_path = folder / "postgres.log"
    log_path.touch()
    if os.geteuid() == 0:
        shutil.chown(log_path, "postgres")
    for attempt in range(3):  # another process may take the free port before the server does
        port = free_port()
        started = subprocess.run(
            _as_server_user(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log_path),
                    "-w",
                    "-o",
                    (
                        f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off "
                        "-c max_connections=200"
                    ),
                    "start",
                ]
            ),
            check=False,
            capture_output=True,
            text=True,
        )
        if started.returncode == 0:
            break
        if attempt == 2:
            raise RuntimeError(
                f"PostgreSQL did not start: {started.stderr}\n{log_path.read_text()[-2000:]}"
            )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )


def create_database(admin_url: str) -> str:
    """A new empty database on the server of `admin_url`; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
