"""The value types retrieval speaks: search results, fetched pages, failures, passages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SearchResult:
    """One hit of a search provider; `rank` counts from 1 in the provider's order."""

    url: str
    title: str
    snippet: str
    rank: int


@dataclass
class SearchOutcome:
    """What a search returned, which provider answered and which ones failed on the way."""

    results: list[SearchResult]
    provider: str | None  # the provider that answered, e.g. "local:docs"; None if none did
    failures: list[str] = field(default_factory=list)  # e.g. ["ddg: rate limited (HTTP 429)"]


@dataclass(frozen=True)
class Page:
    """A fetched and cleaned page; `text` is its main content as Markdown."""

    url: str
    final_url: str
    title: str
    text: str
    content_type: str
    language: str | None = None
    date: str | None = None
    from_cache: bool = False
    icon: str | None = None  # the site's icon as a PNG data URI (retrieval/icons.py)


@dataclass(frozen=True)
class FetchFailure:
    """A page that could not be fetched or cleaned, with a reason fit to show the user."""

    url: str
    reason: str


@dataclass(frozen=True)
class Passage:
    """A piece of a page small enough to give the model, with where it came from."""

    text: str
    url: str
    title: str
    heading_path: tuple[str, ...] = ()
    score: float = 0.0
