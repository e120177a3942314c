"""All configuration in one place: pydantic settings read from `MEGREZ_*` env vars, in sections.

`Settings` holds one section per layer that reads configuration (`core.settings.sections`):
`runtime` (the model), `store`, `retrieval`, `agent`, `server`, `ui` and `evaluation`. A
function takes the section it needs (`settings.retrieval`), not the whole. Each setting keeps
its flat `MEGREZ_*` name whatever its section (`MEGREZ_PAGES` is `settings.retrieval.pages`), so
the names are unique across sections and `Settings(pages=3)` or `settings.replace(pages=3)`
(CLI flags) name a setting the way the environment does.

Retrieval takes small policies built from the settings (`wiring`), never `Settings`. This
package imports nothing of the project but `core.errors`, so that any layer may depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, Field, ValidationError, model_validator

from core.errors import MegrezSearchError
from core.settings.sections import (
    MAX_PAGES,
    AgentSettings,
    EvaluationSettings,
    RetrievalSettings,
    RuntimeSettings,
    Section,
    ServerSettings,
    StoreSettings,
    UISettings,
)

__all__ = [
    "MAX_PAGES",
    "SECTIONS",
    "AgentSettings",
    "EvaluationSettings",
    "RetrievalSettings",
    "RuntimeSettings",
    "Section",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "StoreSettings",
    "UISettings",
    "by_section",
    "get_settings",
]

#: The sections by attribute name, in the order `megrez-search config` lists them.
SECTIONS: dict[str, type[Section]] = {
    "runtime": RuntimeSettings,
    "store": StoreSettings,
    "retrieval": RetrievalSettings,
    "agent": AgentSettings,
    "server": ServerSettings,
    "ui": UISettings,
    "evaluation": EvaluationSettings,
}
#: Each setting's section, by its flat name (`MEGREZ_<NAME>` lower-cased).
SECTION_OF: dict[str, str] = {
    name: section for section, kind in SECTIONS.items() for name in kind.model_fields
}


def by_section(names: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat settings (`{"pages": 3}`) grouped by their section (`{"retrieval": {"pages": 3}}`).

    Raises `ValueError` for a name no section has.
    """
    unknown = sorted(set(names) - set(SECTION_OF))
    if unknown:
        raise ValueError(f"no such setting: {', '.join(unknown)}")
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in names.items():
        grouped.setdefault(SECTION_OF[name], {})[name] = value
    return grouped


class Settings(BaseModel):
    """Every section; each one read from the environment unless given."""

    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    ui: UISettings = Field(default_factory=UISettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)

    @model_validator(mode="before")
    @classmethod
    def _sections_from_flat_names(cls, data: Any) -> Any:
        """`Settings(pages=3)`: the named settings over the environment, as in `MEGREZ_PAGES`."""
        if not isinstance(data, dict):
            return data
        flat = {name: value for name, value in data.items() if name not in SECTIONS}
        if not flat:
            return data
        sections = {name: value for name, value in data.items() if name in SECTIONS}
        for section, values in by_section(flat).items():
            if section in sections:
                raise ValueError(f"{section} is given both whole and by name")
            sections[section] = SECTIONS[section](**values)
        return sections

    def replace(self, **names: Any) -> Settings:
        """A copy with the named settings changed (flat names, as `Settings(...)` takes them).

        The changed sections are validated again: a bad value raises `ValidationError`.
        """
        updates: dict[str, Section] = {}
        for section, values in by_section(names).items():
            current: Section = getattr(self, section)
            updates[section] = type(current).model_validate({**dict(current), **values})
        return self.model_copy(update=updates)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Pydantic's copy, refusing flat names: it would set them as stray attributes, silently
        (`replace` is the copy that takes them)."""
        stray = sorted(set(update or ()) - set(SECTIONS))
        if stray:
            raise TypeError(f"model_copy takes sections, not {', '.join(stray)}: use replace()")
        return super().model_copy(update=update, deep=deep)


class SettingsError(MegrezSearchError):
    """A `MEGREZ_*` environment variable holds a value the setting cannot take."""


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (e.g. CLI) overrides applied on top.

    Raises `SettingsError` naming each bad `MEGREZ_*` variable and why.
    """
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"MEGREZ_{'_'.join(str(part) for part in error['loc']).upper()}="
            f"{error.get('input')!r}: {error['msg']}"
            for error in exc.errors()
        )
        raise SettingsError(f"invalid setting {problems}") from None
    clean = {key: value for key, value in overrides.items() if value is not None}
    return settings.replace(**clean) if clean else settings
