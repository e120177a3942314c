"""Fixtures of the agent tests: settings with a fresh conversation store, scripted agents.

The real pieces come from the root conftest (`docs_server`, `docs_index`: the Python docs
over loopback and a `local:` index of them) and from the embedded SmolLM2 model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from megrez_search.agent.api import SearchAgent

from megrez_search.runtime import Runtime
from megrez_search.settings import Settings

from .scripted import Script, ScriptedModel

#: A fixed clock so the Megrez time line is reproducible (2 Jan 2026 was a Friday).
CLOCK = datetime(2026, 1, 2, 9, 30, 0)


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data dir and a provider chain that must never be reached."""
    return Settings(data_dir=tmp_path / "data", model="embedded:tiny", search="local:none")


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
        agent = SearchAgent(settings, Runtime(model, settings), clock=lambda: CLOCK)
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
    return settings.model_copy(
        update={
            "model": "embedded:tiny",
            "search": f"local:{name}",
            "answer_max_tokens": 160,
            "chat_max_tokens": 96,
        }
    )
