"""The SSRF guard on resolved addresses, exemptions, and pinning of the checked address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from retrieval.errors import BlockedURLError
from retrieval.fetch import Fetcher
from retrieval.guard import address_problem, check_url
from retrieval.policy import GuardPolicy
from retrieval.types import FetchFailure, Page
from tests.support.policies import policy_for
from tests.support.servers import send, serve_routes


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback address"),
        ("::1", "loopback address"),
        ("10.1.2.3", "private address"),
        ("172.16.0.1", "private address"),
        ("192.168.1.1", "private address"),
        ("fd12:3456::1", "private address"),
        ("169.254.169.254", "cloud metadata address"),
        ("fd00:ec2::254", "cloud metadata address"),
        ("169.254.10.10", "link-local address"),
        ("fe80::1", "link-local address"),
        ("0.0.0.0", "unspecified address"),
        ("224.0.0.1", "multicast address"),
        ("100.64.0.1", "shared (carrier-grade NAT) address"),
        ("::ffff:127.0.0.1", "loopback address"),  # IPv4-mapped IPv6
        # IPv6 addresses that embed an IPv4 address are judged by it (issue 15, item 6):
        ("2002:7f00:1::1", "loopback address"),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", "cloud metadata address"),  # 6to4 of 169.254.169.254
        ("2002:c0a8:0101::1", "private address"),  # 6to4 of 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback address"),  # Teredo, client 127.0.0.1
        ("::127.0.0.1", "loopback address"),  # IPv4-compatible
        ("::ffff:0:a00:1", "private address"),  # IPv4-translated (SIIT) 10.0.0.1
        ("64:ff9b::7f00:1", "loopback address"),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::a00:1", "private address"),  # local-use NAT64 of 10.0.0.1
        ("2606:4700::5efe:7f00:1", "loopback address"),  # ISATAP interface id
        # IANA special-purpose ranges
        ("192.0.2.1", "documentation address"),
        ("198.18.0.1", "benchmarking address"),
        ("240.0.0.1", "reserved address"),
        ("255.255.255.255", "broadcast address"),
        ("192.88.99.1", "6to4 relay anycast address"),
        ("100::1", "discard-only address"),
        ("2001:db8::1", "documentation address"),
        ("3fff::1", "documentation address"),
        ("5f00::1", "segment routing (SRv6) address"),
        ("2002:5db8:d822::1", None),  # 6to4 of a public address
        ("93.184.216.34", None),
        ("2606:4700::6810:84e5", None),
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


def fixed_resolver(answers: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve


@pytest.mark.anyio
async def test_every_resolved_address_must_pass() -> None:
    guard = GuardPolicy()
    resolver = fixed_resolver(
        {"mixed.test": ["93.184.216.34", "10.0.0.7"], "public.test": ["93.184.216.34"]}
    )
    with pytest.raises(
        BlockedURLError, match=r"private address 10\.0\.0\.7 \(host 'mixed\.test'\)"
    ):
        await check_url("http://mixed.test/", guard, resolver)
    target = await check_url("https://public.test/page", guard, resolver)
    assert target.address == "93.184.216.34"


@pytest.mark.anyio
async def test_allow_hosts_by_name_and_network(tmp_path: Path) -> None:
    resolver = fixed_resolver({"intranet.test": ["10.0.0.7"], "other.test": ["10.0.0.8"]})
    by_name = policy_for(data_dir=tmp_path, allow_hosts="intranet.test").fetch.guard
    assert (await check_url("http://intranet.test/", by_name, resolver)).address == "10.0.0.7"
    with pytest.raises(BlockedURLError):
        await check_url("http://other.test/", by_name, resolver)
    by_network = policy_for(data_dir=tmp_path, allow_hosts="10.0.0.0/24").fetch.guard
    assert (await check_url("http://other.test/", by_network, resolver)).address == "10.0.0.8"


@pytest.mark.anyio
async def test_a_policy_trusting_one_more_host_is_a_copy() -> None:
    resolver = fixed_resolver({"intranet.test": ["10.0.0.7"]})
    guard = GuardPolicy()
    by_name, by_network = guard.trusting("Intranet.test"), guard.trusting("10.0.0.0/24")
    assert (await check_url("http://intranet.test/", by_name, resolver)).address == "10.0.0.7"
    assert (await check_url("http://10.0.0.7/", by_network, resolver)).address == "10.0.0.7"
    assert by_network.trusting("10.0.0.0/24") == by_network
    with pytest.raises(BlockedURLError):
        await check_url("http://intranet.test/", guard, resolver)  # the original is unchanged


@pytest.mark.anyio
async def test_schemes_and_unresolvable_hosts() -> None:
    guard = GuardPolicy()
    for url in ("file:///etc/passwd", "gopher://x/", "ftp://example.org/"):
        with pytest.raises(BlockedURLError, match="unsupported URL scheme"):
            await check_url(url, guard)

    async def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(BlockedURLError, match="cannot resolve host 'nowhere.invalid'"):
        await check_url("http://nowhere.invalid/", guard, fails)


@pytest.fixture
def host_echo() -> Iterator[tuple[str, list[str]]]:
    hosts: list[str] = []

    def echo(handler: BaseHTTPRequestHandler) -> None:
        hosts.append(handler.headers["Host"])
        send(
            handler,
            b"<html><body><article><h1>Pinned</h1><p>"
            + b"Connected to the checked address. " * 20
            + b"</p></article></body></html>",
        )

    with serve_routes({"/": echo}) as base_url:
        yield base_url, hosts


@pytest.mark.anyio
async def test_connection_goes_to_the_checked_address(
    host_echo: tuple[str, list[str]], tmp_path: Path
) -> None:
    """The transport resolves once, checks, and connects to that very address (no re-resolve)."""
    base_url, hosts = host_echo
    port = base_url.rsplit(":", 1)[1]
    calls: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]  # the system resolver knows nothing of this name

    trusted = policy_for(data_dir=tmp_path, allow_hosts="127.0.0.1", page_cache_ttl_s=0).fetch
    async with Fetcher(trusted, resolver=resolver) as fetcher:
        page = await fetcher.fetch_page(f"http://docs.rebind.test:{port}/")
    assert isinstance(page, Page) and "checked address" in page.text
    assert calls == ["docs.rebind.test"]
    assert hosts == [f"docs.rebind.test:{port}"]  # virtual host kept

    untrusted = policy_for(data_dir=tmp_path, page_cache_ttl_s=0).fetch
    async with Fetcher(untrusted, resolver=resolver) as fetcher:
        refused = await fetcher.fetch_page(f"http://docs.rebind.test:{port}/")
    assert isinstance(refused, FetchFailure)
    assert refused.reason.startswith(
        "blocked: loopback address 127.0.0.1 (host 'docs.rebind.test')"
    )
    assert len(hosts) == 1  # nothing reached the server


@pytest.mark.anyio
async def test_cached_pages_are_refused_once_their_host_is_not_trusted(
    host_echo: tuple[str, list[str]], tmp_path: Path
) -> None:
    """Issue 15 item 5: the guard decides before the cache answers, for host names too (the
    old code re-checked only IP literals) and for the host a cached page redirected to."""
    base_url, hosts = host_echo
    port = base_url.rsplit(":", 1)[1]

    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    url = f"http://intranet.test:{port}/"
    trusted = policy_for(data_dir=tmp_path, allow_hosts="intranet.test").fetch
    async with Fetcher(trusted, resolver=resolver) as fetcher:
        assert isinstance(await fetcher.fetch_page(url), Page)
        cached = await fetcher.fetch_page(url)
    assert isinstance(cached, Page) and cached.from_cache and len(hosts) == 1

    untrusted = policy_for(data_dir=tmp_path).fetch  # same data dir, so the same page cache
    async with Fetcher(untrusted, resolver=resolver) as fetcher:
        refused = await fetcher.fetch_page(url)
    assert isinstance(refused, FetchFailure) and refused.reason.startswith("blocked: loopback")

    # A public URL whose cached page came from a redirect to a host no longer trusted.
    from retrieval.cache import PageCache

    cache = PageCache(untrusted.cache.path, untrusted.cache.ttl_s)
    cache.put(Page("http://public.test/", url, "t", "text", "text/html", None, None))
    cache.close()

    async def public_resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34"] if host == "public.test" else ["127.0.0.1"]

    async with Fetcher(untrusted, resolver=public_resolver) as fetcher:
        redirected = await fetcher.fetch_page("http://public.test/")
    assert isinstance(redirected, FetchFailure) and "intranet.test" in redirected.reason
    assert len(hosts) == 1
