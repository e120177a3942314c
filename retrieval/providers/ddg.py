"""`ddg`: web search through the `ddgs` package (DuckDuckGo and friends, no API key)."""

from __future__ import annotations

import logging
import math
from urllib.parse import parse_qs, urlsplit

from retrieval.errors import ProviderFailure
from retrieval.policy import SearchPolicy
from retrieval.providers.base import BaseProvider
from retrieval.types import SearchResult

logger = logging.getLogger(__name__)


def unwrap_redirect(href: str) -> str:
    """DuckDuckGo sometimes links through its redirector (`//duckduckgo.com/l/?uddg=URL`)."""
    if href.startswith("//"):
        href = "https:" + href
    parts = urlsplit(href)
    if parts.netloc.endswith("duckduckgo.com") and parts.path.startswith("/l/"):
        target = parse_qs(parts.query).get("uddg")
        if target:
            return target[0]
    return href


class DdgProvider(BaseProvider):
    """`DDGS().text(...)` with the backend from `SearchPolicy.ddg_backend`."""

    name = "ddg"

    def __init__(self, policy: SearchPolicy) -> None:
        self.backend = policy.ddg_backend
        self.timeout = max(1, math.ceil(policy.timeout_s))

    def query(self, query: str, max_results: int) -> list[SearchResult]:
        from ddgs import DDGS
        from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

        try:
            rows = DDGS(timeout=self.timeout).text(
                query, max_results=max_results, backend=self.backend
            )
        except RatelimitException as exc:
            raise ProviderFailure(f"rate limited ({exc})", rate_limited=True) from exc
        except TimeoutException as exc:
            raise ProviderFailure(f"timed out after {self.timeout} s") from exc
        except DDGSException as exc:
            message = str(exc)
            lowered = message.lower()
            if "ratelimit" in lowered or "429" in lowered or "202" in lowered:
                raise ProviderFailure(f"rate limited ({message})", rate_limited=True) from exc
            if "no results found" in lowered:
                # ddgs says this for DuckDuckGo's HTTP 202 "are you a bot" page too, which is how
                # it rate-limits; a web search with truly nothing to show is rare.
                raise ProviderFailure(
                    "no results (DuckDuckGo answers this way when it rate-limits)",
                    rate_limited=True,
                ) from exc
            if "dns" in lowered or "connect" in lowered:
                # The raw error is a nested transport dump; the log keeps it, the user gets why.
                logger.info("ddg transport error: %s", message)
                raise ProviderFailure("cannot reach DuckDuckGo (no internet connection?)") from exc
            raise ProviderFailure(f"unavailable ({message[:200]})") from exc
        results: list[SearchResult] = []
        for row in rows:
            url = unwrap_redirect(row.get("href") or "")
            if not url.startswith(("http://", "https://")):
                continue
            results.append(
                SearchResult(
                    url=url,
                    title=row.get("title") or url,
                    snippet=row.get("body") or "",
                    rank=len(results) + 1,
                )
            )
        return results
