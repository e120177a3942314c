"""`megrez-search demo`'s preparation: docs served on loopback, indexed once, searched."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from retrieval.search import make_search_provider
from tests.support.servers import free_port
from ui.demo import INDEX_NAME, DemoError, prepare_demo
from wiring import retrieval_policy


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "html"
    (folder / "library").mkdir(parents=True)
    (folder / "index.html").write_text('<a href="library/functools.html">functools</a>', "utf-8")
    (folder / "library" / "functools.html").write_text(
        "<html><head><title>functools</title></head><body><main><h1>functools</h1>"
        "<p>The lru_cache decorator has a maxsize of 128 by default.</p></main></body></html>",
        "utf-8",
    )
    return folder


def test_demo_serves_indexes_once_and_searches_loopback(docs: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo_docs_port=free_port(), search="ddg")
    demo = prepare_demo(settings, docs_dir=docs)
    try:
        assert demo.settings.retrieval.search == f"local:{INDEX_NAME}"
        assert "127.0.0.1" in demo.settings.retrieval.allow_hosts
        assert httpx.get(demo.docs_url + "library/functools.html").status_code == 200
        search = retrieval_policy(demo.settings).search
        results = make_search_provider(search.chain, search).search("lru_cache maxsize", 5)
        assert [r.url for r in results.results] == [demo.docs_url + "library/functools.html"]
        index_file = demo.settings.store.index_dir / f"{INDEX_NAME}.sqlite"
        built = index_file.stat().st_mtime_ns
    finally:
        demo.close()
    again = prepare_demo(settings, docs_dir=docs)  # a second start does not crawl again
    again.close()
    assert index_file.stat().st_mtime_ns == built


def test_demo_without_the_docs_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="python3.11-doc"):
        prepare_demo(Settings(data_dir=tmp_path), docs_dir=tmp_path / "missing")
