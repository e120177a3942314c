"""`local:NAME`: a private index built with `megrez-search index SOURCE --name NAME`."""

from __future__ import annotations

from retrieval.errors import LocalIndexError, ProviderFailure
from retrieval.index_store import index_path, search_index
from retrieval.policy import IndexStore
from retrieval.providers.base import BaseProvider
from retrieval.types import SearchResult


class LocalProvider(BaseProvider):
    def __init__(self, index_name: str, store: IndexStore) -> None:
        index_path(index_name, store)  # refuse a malformed name at configuration time
        self.index_name = index_name
        self.name = f"local:{index_name}"
        self.store = store

    def query(self, query: str, max_results: int) -> list[SearchResult]:
        try:
            return search_index(self.index_name, query, max_results, self.store)
        except LocalIndexError as exc:
            raise ProviderFailure(str(exc)) from exc
