"""Shared fixtures: the Python 3.11 docs served over loopback HTTP and a `local:` index of them.

`docs_root`   Path of Debian's python3.11-doc HTML (tests skip when it is not installed).
`docs_server` base URL of a real threaded HTTP server on 127.0.0.1 serving `docs_root`.
`docs_index`  (settings, index name): the docs crawled through `docs_server` by
              `megrez-search index`, in a session data dir; settings trust 127.0.0.1/localhost
              (MEGREZ_ALLOW_HOSTS) and search `local:docs`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from megrez_search.settings import Settings
from tests.support.docs_index import ALLOW_HOSTS, INDEX_NAME, TEST_MODEL, build_docs_index
from tests.support.postgres import create_database, running_postgres
from tests.support.servers import serve_directory

# Every test (and every subprocess it starts) runs the tiny rung of the embedded ladder unless
# it names another model: the 1.5B default would make the suite many times slower.
os.environ["MEGREZ_MODEL"] = TEST_MODEL

DOCS_ROOT = Path("/usr/share/doc/python3.11/html")
logger = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def docs_root() -> Path:
    if not (DOCS_ROOT / "library" / "functools.html").exists():
        pytest.skip("python3.11-doc is not installed (/usr/share/doc/python3.11/html)")
    return DOCS_ROOT


@pytest.fixture(scope="session")
def docs_server(docs_root: Path) -> Iterator[str]:
    with serve_directory(docs_root) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def docs_index(
    docs_root: Path,
    docs_server: str,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> tuple[Settings, str]:
    data_dir = tmp_path_factory.mktemp("docs-data")
    cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    cache_dir = cache.mkdir("megrez-docs-index") if cache is not None else None
    seconds = build_docs_index(docs_root, docs_server, data_dir, cache_dir)
    logger.info("docs index ready in %.1f s", seconds)
    settings = Settings(data_dir=data_dir, allow_hosts=ALLOW_HOSTS, search=f"local:{INDEX_NAME}")
    return settings, INDEX_NAME


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of a real PostgreSQL started for this test session (Debian `postgresql`)."""
    with running_postgres(tmp_path_factory.mktemp("postgres")) as admin_url:
        yield admin_url


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of an empty conversation store: SQLite in `tmp_path`, or a new PostgreSQL db."""
    settings = Settings(data_dir=tmp_path / "data")
    if request.param == "postgres":
        url = create_database(request.getfixturevalue("postgres_server"))
        settings = settings.model_copy(update={"database_url": SecretStr(url)})
    return settings
