"""Prompt templates, kept as data files under `prompts/` and loaded by name.

    render("megrez", "time", time="2026-01-01 09:00:00", weekday="Thursday")

Templates use `$name` placeholders (`string.Template`) so JSON and braces need no escaping.
A missing placeholder value is a programming error and raises `KeyError`.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from importlib.resources import files
from string import Template
from typing import Any

#: The `prompts/` folder, shipped as package data of `prompts` (wheel or editable).
PROMPTS_DIR = files("prompts")


@cache
def _templates(family: str) -> dict[str, str]:
    with PROMPTS_DIR.joinpath(f"{family}.toml").open("rb") as file:
        return tomllib.load(file)


def template(family: str, name: str) -> str:
    """The raw text of prompt `name` in `prompts/<family>.toml`."""
    return _templates(family)[name]


def examples(family: str, name: str) -> list[dict[str, str]]:
    """The table array `name` of `prompts/<family>.toml`: worked examples (few-shot turns)."""
    tables: Any = _templates(family)[name]
    return [{str(key): str(value) for key, value in table.items()} for table in tables]


def render(family: str, name: str, **values: object) -> str:
    """Prompt `name` of `prompts/<family>.toml` with its `$placeholders` filled in."""
    return Template(template(family, name)).substitute({k: str(v) for k, v in values.items()})


def message(name: str, language: str, **values: object) -> str:
    """The agent's own message `name` in `language` ("zh": prompts/common_zh.toml), or in
    English (prompts/common.toml) when there is no such file or key."""
    family = f"common_{language}"
    localized = language != "en" and PROMPTS_DIR.joinpath(f"{family}.toml").is_file()
    if localized and name in _templates(family):
        return render(family, name, **values)
    return render("common", name, **values)


@cache
def web_search_function() -> dict[str, object]:
    """The `googleWebSearch` function definition shown to Megrez models."""
    return json.loads(PROMPTS_DIR.joinpath("web_search_function.json").read_text(encoding="utf-8"))
