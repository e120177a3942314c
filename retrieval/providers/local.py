"""`local:NAME`: a private index built with `megrez-search index SOURCE --name NAME`."""

from __future__ import annotations

from megrez_search.retrieval.errors import LocalIndexError, ProviderFailure
from megrez_search.retrieval.index_store import index_path, search_index
from megrez_search.retrieval.providers.base import BaseProvider
from megrez_search.retrieval.types import SearchResult

from megrez_search.settings import Settings


class LocalProvider(BaseProvider):
    def __init__(self, index_name: str, settings: Settings) -> None:
        index_path(index_name, settings)  # refuse a malformed name at configuration time
        self.index_name = index_name
        self.name = f"local:{index_name}"
        self.settings = settings

    def query(self, query: str, max_results: int) -> list[SearchResult]:
        try:
            return search_index(self.index_name, query, max_results, self.settings)
        except LocalIndexError as exc:
            raise ProviderFailure(str(exc)) from exc
