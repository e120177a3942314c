"""The start-up check of `ui` and `serve`: never an open listener without authentication."""

from __future__ import annotations

import ipaddress
import logging

from core.errors import MegrezSearchError

log = logging.getLogger(__name__)


class ExposureError(MegrezSearchError):
    """Listening beyond this machine with no accounts to authenticate anyone."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere: treat it as exposed


def check_exposure(host: str, has_users: bool, no_auth: bool) -> str | None:
    """Raise if `host` is reachable from elsewhere with no accounts (unless `no_auth`);
    return the warning to print loudly when `no_auth` lets it through."""
    if has_users or is_loopback(host):
        return None
    if not no_auth:
        raise ExposureError(
            f"refusing to listen on {host} with no accounts: anyone who can reach it could "
            "read every conversation; add one with `megrez-search users add NAME` "
            "(or pass --no-auth to serve everyone as one user)"
        )
    warning = (
        f"WARNING: --no-auth: listening on {host} WITHOUT AUTHENTICATION; everyone who can "
        "reach it shares one user and all of its conversations"
    )
    log.warning(warning)
    return warning
