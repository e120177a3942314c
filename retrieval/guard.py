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
from megrez_search.retrieval.errors import BlockedURLError

from megrez_search.settings import Settings

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
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


def address_problem(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused by default, or None if it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
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
    if address.is_private:
        return "private address"
    if address.is_reserved or not address.is_global:
        return "non-public address"
    return None


def _is_exempt(host: str, address: IPAddress | None, settings: Settings) -> bool:
    names, networks = settings.allowed_hosts
    if host.lower().rstrip(".") in names:
        return True
    return address is not None and any(address in network for network in networks)


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
    url: str | httpx.URL, settings: Settings, resolver: Resolver = resolve_host
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
        if problem and not _is_exempt(host, address, settings):
            logger.info("SSRF guard blocked %s (%s %s)", url, problem, address)
            raise BlockedURLError(
                f"blocked: {problem} {address} (host {host!r}); add it to MEGREZ_ALLOW_HOSTS "
                "if you trust it"
            )
    return CheckedTarget(url=parsed, address=addresses[0])
