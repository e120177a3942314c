"""The evaluation corpus: a folder served on loopback, crawled into a `local:` index that is
reused while nothing changed and rebuilt when the pages change."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from evaluation.corpus import CorpusError, corpus_settings, ensure_index, serve_corpus
from retrieval.index_store import search_index
from wiring import index_store


def _site(root: Path) -> None:
    root.mkdir()
    (root / "index.html").write_text(
        "<html><head><title>Home</title></head><body><h1>Home</h1>"
        '<a href="a.html">A</a> <a href="sub/b.html">B</a></body></html>'
    )
    (root / "a.html").write_text(
        "<html><head><title>Alpha</title></head><body><h1>Alpha</h1>"
        "<p>The alpha page explains zeppelins and their hangars in some detail.</p></body></html>"
    )
    (root / "sub").mkdir()
    (root / "sub" / "b.html").write_text(
        "<html><head><title>Beta</title></head><body><h1>Beta</h1>"
        "<p>The beta page is about lighthouses and their keepers.</p></body></html>"
    )


def test_a_folder_is_served_indexed_reused_and_refreshed(tmp_path: Path) -> None:
    root = tmp_path / "site"
    _site(root)
    settings = Settings(data_dir=tmp_path / "data")
    with serve_corpus(root) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert "zeppelins" in httpx.get(base_url + "a.html").text
        first = ensure_index(root, base_url, settings, progress=False)
        assert not first.reused
        search = corpus_settings(settings, first)
        assert search.retrieval.search == f"local:{first.index_name}"
        assert "127.0.0.1" in search.retrieval.allow_hosts.split(",")
        hits = search_index(first.index_name, "zeppelins hangars", 5, index_store(search))
        assert hits and hits[0].url == base_url + "a.html"

        assert ensure_index(root, base_url, settings, progress=False).reused

        page = root / "sub" / "b.html"
        page.write_text(page.read_text().replace("lighthouses", "submarines"))
        os.utime(page, ns=(page.stat().st_atime_ns, page.stat().st_mtime_ns + 10**9))
        refreshed = ensure_index(root, base_url, settings, progress=False)
        assert not refreshed.reused
        hits = search_index(refreshed.index_name, "submarines", 5, index_store(search))
        assert [hit.url for hit in hits] == [base_url + "sub/b.html"]
    # The same folder gets the same port next time, so its index stays valid.
    with serve_corpus(root) as again:
        assert again == base_url


def test_bad_corpora_fail_clearly(tmp_path: Path) -> None:
    with (
        pytest.raises(CorpusError, match="corpus folder not found"),
        serve_corpus(tmp_path / "nope"),
    ):
        pass
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "index.html").write_text(
        '<html><head><meta name="robots" content="noindex, nofollow"></head><body>x</body></html>'
    )
    with (
        serve_corpus(empty) as base_url,
        pytest.raises(CorpusError, match="found no pages to index"),
    ):
        ensure_index(empty, base_url, Settings(data_dir=tmp_path / "data"), progress=False)
    assert not list((tmp_path / "data" / "indexes").glob("*.sqlite"))
