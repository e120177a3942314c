"""`searxng:URL`: a self-hosted SearXNG instance through its JSON API (`/search?format=json`)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from retrieval.errors import ProviderFailure, ProviderSpecError
from retrieval.policy import SearchPolicy
from retrieval.providers.base import BaseProvider
from retrieval.types import SearchResult

logger = logging.getLogger(__name__)


UNAVAILABLE = "unavailable (the reason is in the server log)"


class _Unusable(Exception):
    """The instance answered, but not with results (HTTP error or not SearXNG JSON)."""


class SearxngProvider(BaseProvider):
    """One SearXNG instance. Its URL comes from the operator's configuration (MEGREZ_SEARCH or
    MEGREZ_SEARCH_CHOICES; a request can only pick a configured entry), so it is trusted and
    the SSRF guard, which would refuse a SearXNG on the operator's own network, does not apply.
    """

    def __init__(self, base_url: str, policy: SearchPolicy) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ProviderSpecError(
                f"searxng needs the instance URL, e.g. 'searxng:http://localhost:8080' "
                f"(got {base_url!r})"
            )
        self.base_url = base_url.rstrip("/")
        self.name = f"searxng:{self.base_url}"
        self.timeout = policy.timeout_s

    def query(self, query: str, max_results: int) -> list[SearchResult]:
        try:
            payload = self._results_page(query)
        except (httpx.HTTPError, _Unusable) as exc:
            # Refused, timed out, HTTP 404, not JSON: one message for all, so a client that
            # sees this failure learns nothing about the network around the server.
            logger.warning("searxng %s failed: %s: %s", self.base_url, type(exc).__name__, exc)
            raise ProviderFailure(UNAVAILABLE) from exc
        rows = payload["results"]
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
            logger.warning(
                "searxng %s: unresponsive engines %s",
                self.base_url,
                payload["unresponsive_engines"],
            )
            raise ProviderFailure("no results; its engines did not answer")
        return results[:max_results]

    def _results_page(self, query: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.base_url}/search",
            params={"q": query, "format": "json", "pageno": 1},
            headers={"Accept": "application/json"},
            timeout=self.timeout,
            trust_env=False,
        )
        if response.status_code == 429:
            logger.info("searxng %s rate limited (HTTP 429)", self.base_url)
            raise ProviderFailure("rate limited", rate_limited=True)
        if response.status_code == 403:
            raise _Unusable(
                "HTTP 403: enable JSON output with `search: formats: [html, json]` in the "
                "instance's settings.yml"
            )
        if response.status_code >= 400:
            raise _Unusable(f"HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise _Unusable("answered with something other than SearXNG JSON") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise _Unusable("answered with something other than SearXNG JSON")
        return payload
