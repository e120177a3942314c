"""Files as sources, on the agent's side: reading them with the runtime's OCR, searching a
turn's files beside the web, and reading their pages back.

A turn's files are its chat's and those of the collections attached to the conversation
(`FileScope`). They are searched by a provider like any other (`FileProvider`, merged with
the web's results by `WithFiles`), and a result's URL, `doc:<id>#page=<n>`, is "fetched"
from the store, never from the network (`FilePages`), as a `local:` index's file: URLs are.
So normal and deep mode rank, number and cite file pages as they do web pages: one source
per file page, titled "report.pdf, p. 7".
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.file_sources import parse_source_url, source_title, source_url
from agent.state import AgentState
from agent.word_lists import word_list
from retrieval.documents import Document, read_document
from retrieval.errors import ProviderFailure
from retrieval.policy import DocumentLimits
from retrieval.providers.base import BaseProvider, SearchProvider
from retrieval.types import FetchFailure, Page, SearchOutcome, SearchResult
from runtime.perception.images import read_image
from store.documents import DocumentStore

log = logging.getLogger(__name__)

_SNIPPET_CHARS = 240
#: Hits read per result wanted: several passages of one page make one result.
_HITS_PER_RESULT = 4


def ocr_image(data: bytes) -> str:
    """The text on an image given as bytes, through the runtime's OCR (RapidOCR)."""
    with tempfile.TemporaryDirectory(prefix="megrez-ocr-") as folder:
        path = Path(folder) / "image"
        path.write_bytes(data)
        return read_image(path)


def read_file(filename: str, data: bytes, limits: DocumentLimits) -> Document:
    """`read_document` with OCR for images and scanned PDFs; raises `DocumentError`."""
    return read_document(filename, data, limits, ocr=ocr_image)


# --- a turn's files ---------------------------------------------------------------------------

_FILE_WORDS = word_list("file_words.txt")
_LATIN = re.compile(r"[a-z]")


def refers_to_files(text: str) -> bool:
    """Whether a message asks about the files given to it ("the attached file", "this
    document", "文件"): those are searched even when the web would not be."""
    lowered = " ".join(text.lower().split())
    for phrase in _FILE_WORDS:
        if _LATIN.search(phrase):
            if re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", lowered):
                return True
        elif phrase in lowered:
            return True
    return False


@dataclass(frozen=True)
class FileScope:
    """Whose files a turn searches: the owner's chat and attached collections."""

    owner: str
    chat_id: str | None
    collections: tuple[str, ...]


def turn_files(state: AgentState) -> FileScope | None:
    """The files a turn searches (perceive found some), None when it has none."""
    if not state.files:
        return None
    return FileScope(state.owner, state.chat_id, tuple(state.collections))


class FileProvider(BaseProvider):
    """The files of one `FileScope` as a search provider: one result per file page."""

    name = "files"

    def __init__(self, store: DocumentStore, scope: FileScope) -> None:
        self.store = store
        self.scope = scope

    def query(self, query: str, max_results: int) -> list[SearchResult]:
        try:
            hits = self.store.search(
                self.scope.owner,
                query,
                chat_id=self.scope.chat_id,
                collections=self.scope.collections,
                limit=max_results * _HITS_PER_RESULT,
            )
        except Exception as exc:  # the database's errors: the web may still answer
            log.warning("searching the files failed: %r", exc)
            raise ProviderFailure("the files cannot be searched now") from exc
        results: dict[str, SearchResult] = {}
        for hit in hits:
            url = source_url(hit.doc_id, hit.page)
            if url not in results and len(results) < max_results:
                snippet = " ".join(hit.text.split())[:_SNIPPET_CHARS]
                title = source_title(hit.name, hit.page)
                results[url] = SearchResult(url, title, snippet, rank=len(results) + 1)
        return list(results.values())


class WithFiles:
    """A turn's files searched together with the web (or alone: `web` None); their
    results interleaved, best of each first."""

    def __init__(self, files: FileProvider, web: SearchProvider | None) -> None:
        self.files = files
        self.web = web
        self.name = f"files,{web.name}" if web is not None else "files"

    def search(self, query: str, max_results: int) -> SearchOutcome:
        found = self.files.search(query, max_results)
        web = self.web.search(query, max_results) if self.web is not None else None
        failures = list(found.failures)
        if not found.results and not found.failures:
            failures.append("files: nothing in the files matches")
        web_results = web.results if web is not None else []
        merged: list[SearchResult] = []
        for index in range(max(len(found.results), len(web_results))):
            for results in (found.results, web_results):
                if index < len(results):
                    merged.append(results[index])
        merged = [
            SearchResult(r.url, r.title, r.snippet, rank)
            for rank, r in enumerate(merged[:max_results], 1)
        ]
        providers = [o.provider for o in (found, web) if o is not None and o.results]
        if web is not None:
            failures += web.failures
        return SearchOutcome(merged, ",".join(p for p in providers if p) or None, failures)


class FilePages:
    """Reads `doc:` URLs back from the store, for the scope's owner only."""

    def __init__(self, store: DocumentStore, owner: str) -> None:
        self.store = store
        self.owner = owner

    def __call__(self, url: str) -> Page | FetchFailure:
        parsed = parse_source_url(url)
        found = self.store.page_text(self.owner, *parsed) if parsed else None
        if parsed is None or found is None:
            return FetchFailure(url, "no such file (it was removed?)")
        name, text = found
        title = source_title(name, parsed[1])
        return Page(url, url, title, text, "text/markdown", from_cache=True)
