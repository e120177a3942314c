"""Settings in sections: each section reads its own `MEGREZ_*` names, and a flat name (as in the
environment) still names one setting, for the constructor, `replace` and `megrez-search config`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import SECTIONS, Settings, SettingsError, by_section, get_settings
from tests.support.docs_index import run_cli


def test_each_setting_has_one_section_and_keeps_its_flat_environment_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [name for kind in SECTIONS.values() for name in kind.model_fields]
    assert len(names) == len(set(names))  # a flat name would otherwise be ambiguous
    monkeypatch.setenv("MEGREZ_PAGES", "7")
    monkeypatch.setenv("MEGREZ_N_CTX", "2048")
    monkeypatch.setenv("MEGREZ_UNDO_DELETE_S", "3")
    settings = get_settings()
    assert settings.retrieval.pages == 7
    assert settings.runtime.n_ctx == 2048
    assert settings.ui.undo_delete_s == 3


def test_flat_names_route_to_their_sections_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEGREZ_PAGES", "7")
    settings = Settings(n_ctx=1024, history_turns=0)
    assert (settings.runtime.n_ctx, settings.agent.history_turns) == (1024, 0)
    assert settings.retrieval.pages == 7  # the section a name did not touch still reads the env
    changed = settings.replace(pages=2, followups=False)
    assert (changed.retrieval.pages, changed.ui.followups) == (2, False)
    assert settings.retrieval.pages == 7 and settings.ui.followups  # the original is unchanged
    assert changed.runtime is settings.runtime  # untouched sections are shared, not copied
    assert by_section({"pages": 1, "n_ctx": 2}) == {
        "retrieval": {"pages": 1},
        "runtime": {"n_ctx": 2},
    }


def test_a_bad_or_unknown_name_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="no such setting: bogus"):
        Settings(bogus=1)
    with pytest.raises(ValueError, match="no such setting: bogus"):
        Settings().replace(bogus=1)
    with pytest.raises(ValidationError, match="less than or equal to 20"):
        Settings().replace(pages=99)  # replace validates, unlike pydantic's model_copy
    with pytest.raises(TypeError, match="use replace"):
        Settings().model_copy(update={"pages": 3})  # pydantic would set a stray attribute
    monkeypatch.setenv("MEGREZ_PAGES", "many")
    with pytest.raises(SettingsError, match="MEGREZ_PAGES='many'"):
        get_settings()


def test_config_lists_every_setting_under_its_section(tmp_path: Path) -> None:
    done = run_cli("config", data_dir=tmp_path, env={"MEGREZ_PAGES": "4"})
    assert done.returncode == 0, done.stderr
    headings = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert headings == [f"[{section}]" for section in SECTIONS]
    retrieval = done.stdout.split("[retrieval]")[1].split("[agent]")[0]
    assert any(
        line.split() == ["MEGREZ_PAGES", "=", "4", *line.split()[3:]]
        for line in retrieval.splitlines()
        if line.startswith("MEGREZ_PAGES ")
    )
    as_json = json.loads(run_cli("config", "--json", data_dir=tmp_path).stdout)
    assert set(as_json) == set(SECTIONS) and as_json["runtime"]["openai_api_key"] == "**********"
