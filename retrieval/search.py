"""Search provider registry and chains with fallback.

`make_search_provider("ddg,searxng:http://localhost:8080,local:docs", policy)` gives one
`SearchProvider`: the first provider that answers wins; rate limits and outages move on to the
next, and the outcome says which provider answered and which failed. A rate-limited provider
cools down (exponential backoff, shared by the process) and is skipped meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.errors import ProviderFailure, ProviderSpecError
from retrieval.policy import SearchPolicy
from retrieval.providers.base import BaseProvider, SearchProvider
from retrieval.types import SearchOutcome

__all__ = [
    "PROVIDERS",
    "Cooldowns",
    "ProviderChain",
    "ProviderNotOfferedError",
    "SearchProvider",
    "choose_providers",
    "make_search_provider",
]

logger = logging.getLogger(__name__)

MAX_COOLDOWN_S = 900.0  # a rate-limited provider is retried at least every 15 minutes
MAX_WAIT_S = 5.0  # the longest a search waits for a cooling provider instead of failing


def _ddg(arg: str, policy: SearchPolicy) -> BaseProvider:
    from retrieval.providers.ddg import DdgProvider

    if arg:
        raise ProviderSpecError(f"'ddg' takes no argument (got 'ddg:{arg}')")
    return DdgProvider(policy)


def _searxng(arg: str, policy: SearchPolicy) -> BaseProvider:
    from retrieval.providers.searxng import SearxngProvider

    return SearxngProvider(arg, policy)


def _local(arg: str, policy: SearchPolicy) -> BaseProvider:
    from retrieval.providers.local import LocalProvider

    if not arg:
        raise ProviderSpecError("'local' needs an index name, e.g. 'local:docs'")
    return LocalProvider(arg, policy.indexes)


# kind -> factory(argument after the first ':', policy)
PROVIDERS: dict[str, Callable[[str, SearchPolicy], BaseProvider]] = {
    "ddg": _ddg,
    "searxng": _searxng,
    "local": _local,
}


@dataclass
class _Cooldown:
    strikes: int
    until: float


class Cooldowns:
    """Which providers are rate limited until when; doubles on each consecutive rate limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._state: dict[str, _Cooldown] = {}
        self._lock = threading.Lock()

    def remaining(self, name: str) -> float:
        with self._lock:
            state = self._state.get(name)
        return max(0.0, state.until - self.clock()) if state else 0.0

    def strike(self, name: str, base_s: float) -> float:
        """Record a rate limit; returns the cool-down it earned."""
        with self._lock:
            strikes = self._state[name].strikes + 1 if name in self._state else 1
            delay = min(base_s * 2.0 ** (strikes - 1), MAX_COOLDOWN_S)
            self._state[name] = _Cooldown(strikes, self.clock() + delay)
        return delay

    def clear(self, name: str) -> None:
        with self._lock:
            self._state.pop(name, None)


_SHARED_COOLDOWNS = Cooldowns()


class ProviderChain:
    """Providers tried in order until one returns results."""

    def __init__(
        self,
        providers: Sequence[BaseProvider],
        backoff_s: float,
        cooldowns: Cooldowns | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.providers = list(providers)
        self.name = ",".join(provider.name for provider in self.providers)
        self.backoff_s = backoff_s
        self.cooldowns = cooldowns if cooldowns is not None else _SHARED_COOLDOWNS
        self.sleep = sleep

    def search(self, query: str, max_results: int) -> SearchOutcome:
        failures: list[str] = []
        cooling: list[BaseProvider] = []
        for provider in self.providers:
            left = self.cooldowns.remaining(provider.name)
            if left > 0:
                failures.append(f"{provider.name}: skipped, rate limited (retry in {left:.0f} s)")
                cooling.append(provider)
                continue
            outcome = self._try(provider, query, max_results, failures)
            if outcome:
                return outcome
        # Nobody answered. If a cooling provider is about to be free, a short wait beats failing.
        soonest = min(cooling, key=lambda p: self.cooldowns.remaining(p.name), default=None)
        if soonest is not None and self.cooldowns.remaining(soonest.name) <= MAX_WAIT_S:
            self.sleep(self.cooldowns.remaining(soonest.name))
            outcome = self._try(soonest, query, max_results, failures)
            if outcome:
                return outcome
        return SearchOutcome(results=[], provider=None, failures=failures)

    def _try(
        self, provider: BaseProvider, query: str, max_results: int, failures: list[str]
    ) -> SearchOutcome | None:
        try:
            results = provider.query(query, max_results)
        except ProviderFailure as exc:
            message = f"{provider.name}: {exc}"
            if exc.rate_limited:
                delay = self.cooldowns.strike(provider.name, self.backoff_s)
                message += f"; backing off for {delay:.0f} s"
            logger.info("search provider failed: %s", message)
            failures.append(message)
            return None
        except Exception as exc:  # a provider bug must not end the search
            logger.exception("search provider %s crashed", provider.name)
            failures.append(f"{provider.name}: unexpected error: {type(exc).__name__}: {exc}")
            return None
        if not results:
            failures.append(f"{provider.name}: no results")
            return None
        self.cooldowns.clear(provider.name)
        return SearchOutcome(
            results=results[:max_results], provider=provider.name, failures=failures
        )


def make_provider(spec: str, policy: SearchPolicy) -> BaseProvider:
    """One provider from 'ddg', 'searxng:URL' or 'local:NAME'."""
    kind, _, arg = spec.strip().partition(":")
    factory = PROVIDERS.get(kind.strip().lower())
    if factory is None:
        known = ", ".join(f"{name}" for name in PROVIDERS)
        raise ProviderSpecError(
            f"unknown search provider {spec!r}: use one of {known} "
            "(e.g. 'ddg', 'searxng:http://localhost:8080', 'local:docs')"
        )
    return factory(arg.strip(), policy)


class ProviderNotOfferedError(ProviderSpecError):
    """A request asked for a search provider the operator did not configure."""


def _entry_key(spec: str) -> str:
    kind, _, arg = spec.strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "searxng":
        arg = arg.rstrip("/")
    return f"{kind}:{arg}" if arg else kind


def _entries(chain: str) -> list[str]:
    return [part for part in (p.strip() for p in chain.split(",")) if part]


def offered_providers(policy: SearchPolicy) -> list[str]:
    """The chain entries a request may choose: MEGREZ_SEARCH's, MEGREZ_SEARCH_CHOICES' and
    every local index built on this server (`local:NAME` reads the data dir only, no network)."""
    from retrieval.index_store import list_indexes

    local = [f"local:{name}" for name in list_indexes(policy.indexes)]
    configured = _entries(policy.chain) + _entries(policy.choices)
    return list(dict.fromkeys(configured + local))


def _public_name(entry: str) -> str:
    # A configured SearXNG is offered by kind: its (often internal) URL is not for clients.
    return "searxng" if _entry_key(entry).startswith("searxng:") else _entry_key(entry)


def choose_providers(spec: str, policy: SearchPolicy) -> str:
    """The provider chain a request asked for, made of the operator's configured entries only.

    Each comma-separated part must name an offered entry: 'ddg', 'local:pydocs', or a
    configured SearXNG by its entry or as plain 'searxng'. A URL of the request's own is never
    used (it would let any client make the server fetch internal addresses). Raises
    `ProviderNotOfferedError`.
    """
    offered = offered_providers(policy)
    by_key = {_entry_key(entry): entry for entry in offered}
    for entry in offered:  # plain 'searxng' picks the first configured instance
        by_key.setdefault(_public_name(entry), entry)
    chosen: list[str] = []
    for part in _entries(spec):
        picked = by_key.get(_entry_key(part))
        if picked is None:
            names = ", ".join(dict.fromkeys(_public_name(entry) for entry in offered))
            shown = part if len(part) <= 60 else part[:57] + "..."
            raise ProviderNotOfferedError(
                f"search provider {shown!r} is not offered by this server; choose from: "
                f"{names or '(none)'} (the operator adds more with MEGREZ_SEARCH_CHOICES)"
            )
        chosen.append(picked)
    if not chosen:
        raise ProviderSpecError("the search provider chain is empty")
    return ",".join(dict.fromkeys(chosen))


def make_search_provider(spec: str, policy: SearchPolicy) -> ProviderChain:
    """The provider chain for a spec like "ddg,searxng:http://localhost:8080,local:docs"."""
    parts = [part for part in (p.strip() for p in spec.split(",")) if part]
    if not parts:
        raise ProviderSpecError(
            "no search provider configured: set MEGREZ_SEARCH, e.g. 'ddg' or 'ddg,local:docs'"
        )
    return ProviderChain([make_provider(part, policy) for part in parts], policy.backoff_s)
