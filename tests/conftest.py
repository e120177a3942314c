"""Shared fixtures: the Python 3.11 docs served over loopback HTTP and a `local:` index of them,
agents on a scripted model, and test media.

`docs_root`   Path of Debian's python3.11-doc HTML (tests skip when it is not installed).
`docs_server` base URL of a real threaded HTTP server on 127.0.0.1 serving `docs_root`.
`docs_index`  (settings, index name): the docs crawled through `docs_server` by
              `megrez-search index`, in a session data dir; settings trust 127.0.0.1/localhost
              (MEGREZ_ALLOW_HOSTS) and search `local:docs`.
`docs_settings`   those settings with the embedded model and shorter answer caps.
`offline_settings` a fresh data dir and a provider chain that must never be reached.
`scripted_agent`  `make(settings, outputs, ...)` -> (agent, scripted model).
`spoken_question` / `sign_image`  a WAV of a spoken question, a PNG of a road sign.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from agent.api import SearchAgent
from core.settings import Settings
from runtime import Runtime
from tests.support.docs_index import ALLOW_HOSTS, INDEX_NAME, TEST_MODEL, build_docs_index
from tests.support.media import SPOKEN_QUESTION, draw_sign, speak
from tests.support.postgres import create_database, running_postgres
from tests.support.scripted import Script, ScriptedModel
from tests.support.servers import serve_directory
from wiring import search_agent

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
def postgres_server() -> Iterator[str]:
    """Admin URL of a real PostgreSQL started for this test session (Debian `postgresql`).

    Its folder is not under pytest's temp root: each pytest run on the machine makes that
    root private to its user again, and the server (run as `postgres`) then lost its own
    data directory mid-session (a checkpoint's PANIC, every later test refused)."""
    with (
        tempfile.TemporaryDirectory(prefix="megrez-test-postgres-") as folder,
        running_postgres(Path(folder)) as admin_url,
    ):
        yield admin_url


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of an empty conversation store: SQLite in `tmp_path`, or a new PostgreSQL db."""
    settings = Settings(data_dir=tmp_path / "data")
    if request.param == "postgres":
        url = create_database(request.getfixturevalue("postgres_server"))
        settings = settings.replace(database_url=SecretStr(url))
    return settings


#: A fixed clock so the Megrez time line is reproducible (2 Jan 2026 was a Friday).
CLOCK = datetime(2026, 1, 2, 9, 30, 0)


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data dir and a provider chain that must never be reached."""
    return Settings(data_dir=tmp_path / "data", model=TEST_MODEL, search="local:none")


@pytest.fixture
def scripted_agent() -> Iterator[Callable[..., tuple[SearchAgent, ScriptedModel]]]:
    """`make(settings, outputs, dialect=..., choices=...)` -> (agent, model); closed after."""
    agents: list[SearchAgent] = []

    def make(
        settings: Settings,
        outputs: list[Script],
        dialect: str = "megrez",
        choices: list[str] | None = None,
    ) -> tuple[SearchAgent, ScriptedModel]:
        model = ScriptedModel(outputs, dialect=dialect, choices=choices or [])
        agent = search_agent(settings, Runtime(model, settings), clock=lambda: CLOCK)
        agents.append(agent)
        return agent, model

    yield make
    for agent in agents:
        agent.close()


@pytest.fixture(scope="session")
def docs_settings(docs_index) -> Settings:
    """Settings that search the `local:` docs index (root conftest) with the embedded model."""
    settings, name = docs_index
    # Shorter answer caps than a user gets keep the 135M model's rambling out of test time;
    # the facts asserted come in its first sentence.
    return settings.replace(
        model=TEST_MODEL, search=f"local:{name}", answer_max_tokens=160, chat_max_tokens=96
    )


@pytest.fixture(scope="session")
def spoken_question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WAV of espeak-ng saying SPOKEN_QUESTION."""
    return speak(SPOKEN_QUESTION, tmp_path_factory.mktemp("audio") / "q.wav")


@pytest.fixture(scope="session")
def sign_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640x240 PNG with SIGN_LINES drawn on it."""
    return draw_sign(tmp_path_factory.mktemp("images") / "sign.png")
