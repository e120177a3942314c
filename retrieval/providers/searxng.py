"""`searxng:URL`: a self-hosted SearXNG instance through its JSON API (`/search?format=json`)."""

from __future__ import annotations

import logging

import httpx
from megrez_search.retrieval.errors import ProviderFailure, ProviderSpecError
from megrez_search.retrieval.providers.base import BaseProvider
from megrez_search.retrieval.types import SearchResult

from megrez_search.settings import Settings

logger = logging.getLogger(__name__)


class SearxngProvider(BaseProvider):
    """One SearXNG instance; the URL is the user's own, so the SSRF guard does not apply."""

    def __init__(self, base_url: str, settings: Settings) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ProviderSpecError(
                f"searxng needs the instance URL, e.g. 'searxng:http://localhost:8080' "
                f"(got {base_url!r})"
            )
        self.base_url = base_url.rstrip("/")
        self.name = f"searxng:{self.base_url}"
        self.timeout = settings.search_timeout_s

    def query(self, query: str, max_results: int) -> list[SearchResult]:
        try:
            response = httpx.get(
                f"{self.base_url}/search",
                params={"q": query, "format": "json", "pageno": 1},
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                trust_env=False,
            )
        except httpx.TimeoutException as exc:
            raise ProviderFailure(f"timed out after {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise ProviderFailure(f"unreachable ({type(exc).__name__}: {exc})") from exc
        if response.status_code == 429:
            raise ProviderFailure("rate limited (HTTP 429)", rate_limited=True)
        if response.status_code == 403:
            raise ProviderFailure(
                "refused (HTTP 403): enable JSON output with `search: formats: [html, json]` "
                "in the instance's settings.yml"
            )
        if response.status_code >= 400:
            raise ProviderFailure(f"unavailable (HTTP {response.status_code})")
        try:
            payload = response.json()
            rows = payload["results"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderFailure("answered with something other than SearXNG JSON") from exc
        results: list[SearchResult] = []
        for row in rows:
            url = row.get("url") if isinstance(row, dict) else None
            if not url:
                continue
            results.append(
                SearchResult(
                    url=url,
                    title=row.get("title") or url,
                    snippet=row.get("content") or "",
                    rank=len(results) + 1,
                )
            )
        if not results and payload.get("unresponsive_engines"):
            engines = ", ".join(
                f"{engine} ({reason})" for engine, reason in payload["unresponsive_engines"]
            )
            raise ProviderFailure(f"no results; unresponsive engines: {engines}")
        return results[:max_results]
