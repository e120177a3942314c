"""The provider interface: `query` raises `ProviderFailure`, `search` never raises."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

from retrieval.errors import ProviderFailure
from retrieval.types import SearchOutcome, SearchResult

logger = logging.getLogger(__name__)


@runtime_checkable
class SearchProvider(Protocol):
    """Anything that turns a query into a `SearchOutcome`; `search` never raises for outages."""

    name: str

    def search(self, query: str, max_results: int) -> SearchOutcome: ...


class BaseProvider(ABC):
    """A single backend. Subclasses implement `query`; failures are `ProviderFailure`s."""

    name: str

    @abstractmethod
    def query(self, query: str, max_results: int) -> list[SearchResult]:
        """Results best first (rank from 1); raise `ProviderFailure` if the backend fails."""

    def search(self, query: str, max_results: int) -> SearchOutcome:
        try:
            results = self.query(query, max_results)
        except ProviderFailure as exc:
            logger.info("search provider %s failed: %s", self.name, exc)
            return SearchOutcome(results=[], provider=None, failures=[f"{self.name}: {exc}"])
        return SearchOutcome(results=results[:max_results], provider=self.name, failures=[])
