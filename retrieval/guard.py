"""SSRF guard: refuse URLs that lead to loopback, private, link-local or metadata addresses.

The check runs on the *resolved* addresses, on every redirect hop, and the connection is then
pinned to the address that was checked (see `fetch.py`), so a second DNS answer cannot swap in
a private address between check and connect (DNS rebinding). `MEGREZ_ALLOW_HOSTS` exempts
host names or networks the user trusts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from retrieval.errors import BlockedURLError
from retrieval.policy import GuardPolicy, IPAddress

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]

# Cloud metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba): named in the message
# because "link-local" alone does not tell a user why this matters.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}


@dataclass(frozen=True)
class CheckedTarget:
    """A URL that passed the guard, and the address the connection must be made to."""

    url: httpx.URL
    address: str


async def resolve_host(host: str, port: int) -> list[str]:
    """All addresses `host` resolves to (what the OS resolver would connect to)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# IANA special-purpose registries (IPv4 and IPv6) beyond what `ipaddress` flags on every
# Python version: refused by name, so the guard does not depend on the interpreter's tables.
_SPECIAL_PURPOSE = [
    (ipaddress.ip_network(network), name)
    for network, name in [
        ("0.0.0.0/8", "this-network address"),
        ("100.64.0.0/10", "shared (carrier-grade NAT) address"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation address"),
        ("198.51.100.0/24", "documentation address"),
        ("203.0.113.0/24", "documentation address"),
        ("192.31.196.0/24", "AS112 address"),
        ("192.52.193.0/24", "AMT address"),
        ("192.88.99.0/24", "6to4 relay anycast address"),
        ("192.175.48.0/24", "AS112 address"),
        ("198.18.0.0/15", "benchmarking address"),
        ("255.255.255.255/32", "broadcast address"),  # before 240/4, which contains it
        ("240.0.0.0/4", "reserved address"),
        ("64:ff9b:1::/48", "local-use NAT64 address"),
        ("100::/64", "discard-only address"),
        ("2001::/23", "IETF protocol assignment"),
        ("2001:db8::/32", "documentation address"),
        ("3fff::/20", "documentation address"),
        ("5f00::/16", "segment routing (SRv6) address"),
        ("fc00::/7", "private address"),
        ("fe80::/10", "link-local address"),
        ("fec0::/10", "site-local address"),
    ]
]
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
_ISATAP_IIDS = (0x00005EFE, 0x02005EFE)  # interface id ::0:5efe:a.b.c.d / ::200:5efe:a.b.c.d


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo...).

    Such an address reaches its embedded IPv4 host through a translator or tunnel, so the
    guard judges it by that host: `2002:7f00:1::1` is 127.0.0.1.
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    value = int(address)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if value >> 32 == 0 and value > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routed)
        found.append(low32)
    if address in _IPV4_TRANSLATED or any(address in network for network in _NAT64):
        found.append(low32)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client); the client is de-obfuscated
    if (value >> 32) & 0xFFFFFFFF in _ISATAP_IIDS:
        found.append(low32)
    return found


def address_problem(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused by default, or None if it is a public address."""
    for inner in embedded_ipv4(address):
        problem = address_problem(inner)
        if problem:
            return problem
    if address in _METADATA:
        return "cloud metadata address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_multicast:
        return "multicast address"
    for network, name in _SPECIAL_PURPOSE:
        if address.version == network.version and address in network:
            return name
    if address.is_private:
        return "private address"
    if address.is_reserved or not address.is_global:
        return "non-public address"
    return None


def validate_url(url: str | httpx.URL) -> httpx.URL:
    """Parse `url` and refuse schemes other than http(s) and URLs without a host."""
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, TypeError) as exc:
        raise BlockedURLError(f"invalid URL {str(url)!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise BlockedURLError(
            f"unsupported URL scheme {parsed.scheme or '(none)'!r}: only http and https pages "
            "can be fetched"
        )
    if not parsed.host:
        raise BlockedURLError(f"URL {str(url)!r} has no host")
    return parsed


async def check_url(
    url: str | httpx.URL, guard: GuardPolicy, resolver: Resolver = resolve_host
) -> CheckedTarget:
    """Resolve `url`'s host and refuse it unless every address is public or exempt.

    Raises `BlockedURLError` with a message that names the address and how to trust it.
    """
    parsed = validate_url(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise BlockedURLError(f"cannot resolve host {host!r}: {exc}") from exc
        if not addresses:
            raise BlockedURLError(f"cannot resolve host {host!r}: no addresses")
    # Every address must pass: the OS may connect to any of them.
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        problem = address_problem(address)
        if problem and not guard.exempts(host, address):
            logger.info("SSRF guard blocked %s (%s %s)", url, problem, address)
            raise BlockedURLError(
                f"blocked: {problem} {address} (host {host!r}); add it to MEGREZ_ALLOW_HOSTS "
                "if you trust it"
            )
    return CheckedTarget(url=parsed, address=addresses[0])
