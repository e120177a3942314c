"""Search providers on recorded responses in their real wire formats, served on loopback,
and the provider chain's fallback and backoff (with an injected clock and sleep)."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from ddgs.engines.duckduckgo import Duckduckgo
from ddgs.exceptions import RatelimitException

from retrieval.errors import ProviderSpecError
from retrieval.index import build_index
from retrieval.policy import RetrievalPolicy
from retrieval.providers.searxng import UNAVAILABLE
from retrieval.search import (
    Cooldowns,
    ProviderChain,
    ProviderNotOfferedError,
    choose_providers,
    make_provider,
    make_search_provider,
)
from tests.support.policies import policy_for
from tests.support.servers import free_port, send, serve_routes

DATA = Path(__file__).parent / "data"


class Recorder:
    """A route that answers with a fixed response and remembers the requests it got."""

    def __init__(
        self, body: bytes, status: int = 200, content_type: str = "text/html; charset=UTF-8"
    ) -> None:
        self.body, self.status, self.content_type = body, status, content_type
        self.requests: list[dict[str, list[str]]] = []

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = handler.rfile.read(length).decode() if length else urlsplit(handler.path).query
        self.requests.append(parse_qs(form))
        send(handler, self.body, content_type=self.content_type, status=self.status)


@pytest.fixture
def ddg_results() -> Recorder:
    return Recorder((DATA / "ddg_html_results.html").read_bytes())


@pytest.fixture
def ddg_blocked() -> Recorder:
    return Recorder((DATA / "ddg_anomaly_202.html").read_bytes(), status=202)


@pytest.fixture
def searxng() -> Recorder:
    return Recorder((DATA / "searxng_results.json").read_bytes(), content_type="application/json")


@pytest.fixture
def engines(ddg_results: Recorder, ddg_blocked: Recorder, searxng: Recorder) -> Iterator[str]:
    routes = {
        "/ddg/html/": ddg_results,
        "/ddg-blocked/html/": ddg_blocked,
        "/searx/search": searxng,
        "/searx-429/search": Recorder(b"Too Many Requests", status=429, content_type="text/plain"),
        "/searx-403/search": Recorder(b"<h1>403 Forbidden</h1>", status=403),
        "/searx-html/search": Recorder(b"<html><body>SearXNG</body></html>"),
    }
    with serve_routes(routes) as base_url:
        yield base_url


@pytest.fixture
def policy(tmp_path: Path) -> RetrievalPolicy:
    return policy_for(data_dir=tmp_path, search_timeout_s=5.0)


@pytest.fixture
def notes_index(policy: RetrievalPolicy, tmp_path: Path) -> str:
    """A real local index of a small folder."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "lighthouses.md").write_text(
        "# Lighthouses\n\nKeepers trimmed the lamp wicks every four hours.\n"
    )
    (folder / "tides.txt").write_text(
        "Tide tables\n\nSpring tides follow the new and the full moon.\n"
    )
    build_index(str(folder), "notes", policy.indexes, policy.crawl, progress=False)
    return "local:notes"


def point_ddg_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # The seam: ddgs's DuckDuckGo engine POSTs to this class attribute (html.duckduckgo.com/html/).
    monkeypatch.setattr(Duckduckgo, "search_url", url)


def test_ddg_parses_recorded_html_results(
    engines: str, ddg_results: Recorder, policy: RetrievalPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_ddg_at(monkeypatch, f"{engines}/ddg/html/")
    outcome = make_provider("ddg", policy.search).search("python lru_cache default maxsize", 5)
    assert outcome.provider == "ddg" and outcome.failures == []
    assert ddg_results.requests[0]["q"] == ["python lru_cache default maxsize"]  # real form POST
    urls = [r.url for r in outcome.results]
    assert "https://docs.python.org/3/library/functools.html" in urls
    assert "https://realpython.com/lru-cache-python/" in urls  # redirector link unwrapped
    assert not any("duckduckgo.com/y.js" in url for url in urls)  # the ad is dropped
    assert sorted(r.rank for r in outcome.results) == list(range(1, len(urls) + 1))
    docs = next(r for r in outcome.results if "functools" in r.url)
    assert docs.title.startswith("functools")
    assert "maxsize=128" in docs.snippet


def test_searxng_json_api(engines: str, searxng: Recorder, policy: RetrievalPolicy) -> None:
    provider = make_provider(f"searxng:{engines}/searx", policy.search)
    outcome = provider.search("python lru_cache default maxsize", 2)
    assert outcome.provider == f"searxng:{engines}/searx"
    assert searxng.requests[0]["format"] == ["json"]
    assert searxng.requests[0]["q"] == ["python lru_cache default maxsize"]
    assert [(r.rank, r.url) for r in outcome.results] == [
        (1, "https://docs.python.org/3/library/functools.html"),
        (2, "https://stackoverflow.com/questions/49883177/how-does-lru-cache-from-functools-work"),
    ]
    assert outcome.results[0].snippet.startswith("@functools.lru_cache(maxsize=128")


def test_searxng_failures_do_not_tell_network_states_apart(
    engines: str, policy: RetrievalPolicy
) -> None:
    """Issue 15 item 1: refused, HTTP 403/404 and non-JSON answers read the same to a client
    (the old messages were a port-scan oracle); the reason goes to the server log."""
    closed = f"http://127.0.0.1:{free_port()}"
    failures = []
    for base in (f"{engines}/searx-403", f"{engines}/searx-404", f"{engines}/searx-html", closed):
        outcome = make_provider(f"searxng:{base}", policy.search).search("q", 5)
        assert outcome.results == [] and outcome.provider is None
        failures.append(outcome.failures[0].removeprefix(f"searxng:{base}: "))
    assert set(failures) == {UNAVAILABLE}
    rate_limited = make_provider(f"searxng:{engines}/searx-429", policy.search).search("q", 5)
    assert rate_limited.failures[0].endswith(": rate limited")


def test_requests_choose_only_configured_providers(engines: str, tmp_path: Path) -> None:
    configured = f"searxng:{engines}/searx/"
    search = policy_for(
        data_dir=tmp_path, search=f"ddg,{configured}", search_choices="local:docs"
    ).search
    assert choose_providers("local:docs, ddg", search) == "local:docs,ddg"
    assert choose_providers("searxng", search) == configured
    assert choose_providers(f"SEARXNG:{engines}/searx", search) == configured
    for spec in (
        "searxng:http://[::1]:9/internal-admin?x=",
        f"searxng:{engines}/searx-403",
        "local:other",
        "bing",
    ):
        with pytest.raises(ProviderNotOfferedError, match="not offered") as info:
            choose_providers(spec, search)
        assert engines not in str(info.value).replace(spec, "")  # configured URLs stay private


def test_chain_falls_back_past_ddg_block_and_searxng_429(
    engines: str, policy: RetrievalPolicy, notes_index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_ddg_at(monkeypatch, f"{engines}/ddg-blocked/html/")  # DDG's HTTP 202 anomaly page
    clock = [1000.0]
    sleeps: list[float] = []
    chain = make_search_provider(f"ddg,searxng:{engines}/searx-429,{notes_index}", policy.search)
    chain.cooldowns = Cooldowns(clock=lambda: clock[0])
    chain.sleep = sleeps.append

    outcome = chain.search("lamp wicks keepers", 5)
    assert outcome.provider == "local:notes"
    assert outcome.results[0].url.endswith("/notes/lighthouses.md")
    assert outcome.failures == [
        "ddg: no results (DuckDuckGo answers this way when it rate-limits); backing off for 30 s",
        f"searxng:{engines}/searx-429: rate limited; backing off for 30 s",
    ]

    # While it cools down the rate-limited provider is skipped without a request.
    clock[0] += 10
    outcome = chain.search("spring tides moon", 5)
    assert outcome.provider == "local:notes"
    assert outcome.failures == [
        "ddg: skipped, rate limited (retry in 20 s)",
        f"searxng:{engines}/searx-429: skipped, rate limited (retry in 20 s)",
    ]
    assert sleeps == []  # nothing waited: a fallback answered


def test_ddg_ratelimit_exception_moves_on(
    policy: RetrievalPolicy, notes_index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rate_limited(self, *args, **kwargs):
        raise RatelimitException("https://html.duckduckgo.com/html/ 202 Ratelimit")

    monkeypatch.setattr(Duckduckgo, "request", rate_limited)
    chain = make_search_provider(f"ddg,{notes_index}", policy.search)
    chain.cooldowns = Cooldowns(clock=lambda: 0.0)
    outcome = chain.search("tide tables", 3)
    assert outcome.provider == "local:notes"
    assert outcome.failures[0].startswith("ddg: rate limited (")
    assert "202 Ratelimit" in outcome.failures[0]
    assert outcome.failures[0].endswith("backing off for 30 s")


class Flaky:
    """A provider that is rate limited for its first `failures` calls."""

    def __init__(self, name: str, failures: int) -> None:
        self.name, self.left, self.calls = name, failures, 0

    def query(self, query: str, max_results: int):
        from retrieval.errors import ProviderFailure
        from retrieval.types import SearchResult

        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise ProviderFailure("rate limited (HTTP 429)", rate_limited=True)
        return [SearchResult(url="https://example.org/", title="t", snippet="s", rank=1)]


def test_backoff_doubles_is_bounded_and_waits_only_briefly(policy: RetrievalPolicy) -> None:
    clock = [0.0]
    sleeps: list[float] = []
    provider = Flaky("flaky", failures=2)
    chain = ProviderChain(
        [provider],
        policy.search.backoff_s,
        cooldowns=Cooldowns(lambda: clock[0]),
        sleep=lambda s: (sleeps.append(s), clock.__setitem__(0, clock[0] + s)),
    )

    first = chain.search("q", 3)
    assert first.provider is None and first.failures == [
        "flaky: rate limited (HTTP 429); backing off for 30 s"
    ]
    clock[0] = 31.0
    second = chain.search("q", 3)
    assert second.failures == ["flaky: rate limited (HTTP 429); backing off for 60 s"]  # doubled
    clock[0] = 31.0 + 57.0  # 3 s of cool-down left: a short wait beats failing
    third = chain.search("q", 3)
    assert sleeps == [pytest.approx(3.0)]
    assert third.provider == "flaky" and provider.calls == 3
    # A long cool-down is never slept through.
    assert Cooldowns(lambda: 0.0).strike("x", 30.0) == 30.0
    cooldowns = Cooldowns(lambda: 0.0)
    assert max(cooldowns.strike("x", 30.0) for _ in range(20)) == 900.0


def test_bad_specs_are_user_errors(policy: RetrievalPolicy) -> None:
    for spec, message in [
        ("", "no search provider configured"),
        ("bing", "unknown search provider 'bing'"),
        ("searxng:localhost:8080", "searxng needs the instance URL"),
        ("local:", "'local' needs an index name"),
        ("local:../etc", "invalid index name"),
    ]:
        with pytest.raises(Exception) as info:
            make_search_provider(spec, policy.search)
        assert message in str(info.value)
        assert isinstance(info.value, ProviderSpecError) or "index name" in str(info.value)


def test_missing_local_index_is_a_reported_failure(policy: RetrievalPolicy) -> None:
    outcome = make_search_provider("local:nothing", policy.search).search("q", 3)
    assert outcome.provider is None
    assert "no local index named 'nothing'" in outcome.failures[0]
    assert "megrez-search index SOURCE --name nothing" in outcome.failures[0]
