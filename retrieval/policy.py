"""What retrieval is told: small frozen policies, one job each.

Retrieval never reads the application's `Settings`: the composition layer builds these once
from them (`wiring`), and every caller (agent, CLI, UI, server, evaluation, benchmarks)
passes on the piece a function needs. A caller that needs one value changed makes a changed
copy of the piece (`dataclasses.replace`), not of the settings.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from pathlib import Path

from retrieval.passages import TARGET_WORDS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class GuardPolicy:
    """Hosts and networks the SSRF guard lets through although they are not public."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def exempts(self, host: str, address: IPAddress | None) -> bool:
        if host.lower().rstrip(".") in self.names:
            return True
        return address is not None and any(address in network for network in self.networks)

    def trusting(self, host: str) -> GuardPolicy:
        """This policy with `host` (a name or an IP address) exempt as well."""
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            return replace(self, names=self.names | {host.lower()})
        if network in self.networks:
            return self
        return replace(self, networks=(*self.networks, network))


@dataclass(frozen=True)
class FetchLimits:
    """How long, how much and how many: timeouts, the byte cap, redirects, concurrency."""

    connect_timeout_s: float
    read_timeout_s: float
    deadline_s: float  # all pages of one call share this
    max_page_bytes: int
    max_redirects: int
    concurrency: int


@dataclass(frozen=True)
class CachePolicy:
    """Where fetched pages are cached and for how long (`ttl_s` <= 0: no cache)."""

    path: Path
    ttl_s: int


@dataclass(frozen=True)
class IndexStore:
    """Where the local indexes (`local:NAME`) live."""

    directory: Path


@dataclass(frozen=True)
class FetchPolicy:
    """What one `Fetcher` needs: its limits, the guard, the cache and the local indexes
    (a `file:` URL is read from them, never from the disk)."""

    limits: FetchLimits
    guard: GuardPolicy
    cache: CachePolicy
    indexes: IndexStore

    def within(self, deadline_s: float) -> FetchPolicy:
        """This policy with a shorter (or longer) total deadline."""
        return replace(self, limits=replace(self.limits, deadline_s=deadline_s))


@dataclass(frozen=True)
class CrawlPolicy:
    """Building a local index from a website: fetch limits, the guard, crawl bounds."""

    limits: FetchLimits
    guard: GuardPolicy
    concurrency: int
    max_pages: int

    def trusting(self, host: str) -> CrawlPolicy:
        """This policy with `host` exempt from the guard (e.g. a corpus served on loopback)."""
        return replace(self, guard=self.guard.trusting(host))


@dataclass(frozen=True)
class RankPolicy:
    """How passages are picked: the token budget, passages per source, semantic rerank."""

    context_tokens: int
    passages_per_source: int
    rerank: bool
    #: words per passage; smaller for smaller budgets
    passage_words: int = TARGET_WORDS
    #: give the model the matching sentences and rows of the best passages, not whole ones
    spans: bool = False


@dataclass(frozen=True)
class SearchPolicy:
    """The search providers: the default chain, what a request may choose, their limits."""

    chain: str  # the default chain, e.g. "ddg,local:docs"
    choices: str  # more chain entries a request may pick
    timeout_s: float
    backoff_s: float
    ddg_backend: str
    indexes: IndexStore


@dataclass(frozen=True)
class DocumentLimits:
    """What a file given as a source may be: its bytes, its pages, the pages read by OCR
    (a scanned PDF) and the unpacked size of a DOCX (a zip: a few KB can unpack to GBs)."""

    max_bytes: int = 20_000_000
    max_pages: int = 500
    ocr_pages: int = 20
    max_unpacked_bytes: int = 100_000_000


@dataclass(frozen=True)
class RetrievalPolicy:
    """All of the above, built once from the settings (see the module docstring)."""

    fetch: FetchPolicy
    crawl: CrawlPolicy
    rank: RankPolicy
    search: SearchPolicy
    indexes: IndexStore
    documents: DocumentLimits = DocumentLimits()
