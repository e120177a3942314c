"""Reading result pages for a step: fetched concurrently, each announced as it arrives.

Normal mode (nodes/retrieve.py) and deep mode's research (deep/research.py) both read pages
this way and report them in the same shape (`state.fetched`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from agent.events import PageEvent
from agent.file_sources import DOC_SCHEME
from retrieval.io_loop import run_io
from retrieval.policy import FetchPolicy
from retrieval.pooled_fetch import pooled_fetcher
from retrieval.types import FetchFailure, Page


def read_pages(
    urls: Sequence[str],
    policy: FetchPolicy,
    writer: Callable[[PageEvent], None],
    titles: dict[str, str],
    cancel: threading.Event | None = None,
    files: Callable[[str], Page | FetchFailure] | None = None,
) -> list[Page | FetchFailure]:
    """Pages and failures in order of arrival, a `PageEvent` each (titles from the search
    results where the page has none); once `cancel` is set, what arrived so far. A file
    source's URL (`doc:`) is read by `files`, from the store, never fetched."""
    stored = [url for url in urls if url.startswith(DOC_SCHEME)]
    urls = [url for url in urls if not url.startswith(DOC_SCHEME)]

    async def collect() -> list[Page | FetchFailure]:
        arrived: list[Page | FetchFailure] = []
        for url in stored:
            item = files(url) if files is not None else FetchFailure(url, "no files here")
            arrived.append(item)
            reason = item.reason if isinstance(item, FetchFailure) else None
            writer(PageEvent(url=url, title=titles.get(url, ""), ok=reason is None, reason=reason))
        if not urls:
            return arrived
        async with pooled_fetcher(policy) as fetcher:
            async for item in fetcher.iter_pages(urls):
                arrived.append(item)
                title = (item.title if isinstance(item, Page) else "") or titles.get(item.url, "")
                reason = item.reason if isinstance(item, FetchFailure) else None
                ok = isinstance(item, Page)
                writer(PageEvent(url=item.url, title=title, ok=ok, reason=reason))
                if cancel is not None and cancel.is_set():
                    break  # Stop: keep what arrived
        return arrived

    # On the process's I/O loop: its events are written from there (the graph's stream
    # writer is a thread-safe queue).
    return run_io(collect())


def fetch_report(
    arrived: Sequence[Page | FetchFailure], titles: dict[str, str]
) -> list[dict[str, Any]]:
    """What was read and what failed, as `state.fetched` keeps it."""
    return [
        {
            "url": item.url,
            "title": (item.title if isinstance(item, Page) else "") or titles.get(item.url, ""),
            "ok": isinstance(item, Page),
            "reason": item.reason if isinstance(item, FetchFailure) else None,
        }
        for item in arrived
    ]
