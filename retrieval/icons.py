"""A page's declared icon as a small PNG data URI, fetched once per site through the guard.

Only what the page declares (`<link rel="icon">`, `"shortcut icon"`): no guessed
`/favicon.ico`. The bytes must decode as a raster image (PNG, ICO, GIF, JPEG; never SVG, which
can carry script) and are re-encoded, so what reaches the UI is always a PNG we wrote.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urljoin

import httpx
import lxml.html
from PIL import Image

logger = logging.getLogger(__name__)

ICON_MAX_BYTES = 32_000
#: A slow icon server must not cost the page its place within the fetch deadline.
ICON_TIMEOUT_S = 2.0
ICON_SIZE = 32
#: Pixels an icon may declare before it is decoded: a tiny file can claim a huge canvas.
_MAX_SOURCE_SIDE = 512
_RASTER_FORMATS = {"PNG", "ICO", "GIF", "JPEG"}
_ICON_RELS = {"icon", "shortcut icon"}
DATA_URI_PREFIX = "data:image/png;base64,"

#: Downloads a URL's body through the guarded client with the icon's size cap.
Download = Callable[[str], Awaitable[bytes]]
V = TypeVar("V")


def declared_icon(tree: lxml.html.HtmlElement, base_url: str) -> str | None:
    """The absolute http(s) URL of the first icon `<link>` in the page's head, if any."""
    head = tree.find("head")
    if head is None:
        return None
    for link in head.iter("link"):
        rel = " ".join((link.get("rel") or "").lower().split())
        href = (link.get("href") or "").strip()
        if rel in _ICON_RELS and href:
            url = urljoin(base_url, href)
            return url if url.startswith(("http://", "https://")) else None
    return None


def png_data_uri(body: bytes) -> str | None:
    """`body` re-encoded as a `ICON_SIZE`-square PNG data URI, or None if it is not a raster
    image we accept."""
    try:
        with Image.open(io.BytesIO(body)) as image:
            if image.format not in _RASTER_FORMATS or max(image.size) > _MAX_SOURCE_SIDE:
                return None
            image.load()
            square = image.convert("RGBA").resize((ICON_SIZE, ICON_SIZE), Image.Resampling.LANCZOS)
    except Exception:  # noqa: BLE001 - Pillow raises many kinds on bad input: no icon
        return None
    out = io.BytesIO()
    square.save(out, format="PNG", optimize=True)
    return DATA_URI_PREFIX + base64.b64encode(out.getvalue()).decode("ascii")


class IconCache:
    """Icons by site (host and port; None: the site has none we accept), the most recent
    `capacity`, kept for the life of the process so a site's icon is fetched once; and the
    pages that declared one, so a page served from the page cache shows the icon it showed.
    Shared by fetchers on several threads' event loops: the maps sit behind a lock, and a
    download in flight is shared only within its own loop."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._icons: OrderedDict[str, str | None] = OrderedDict()
        self._pages: OrderedDict[str, str] = OrderedDict()  # page URL -> site
        self._pending: dict[tuple[int, str], asyncio.Future[str | None]] = {}

    def known(self, page_url: str) -> str | None:
        """The icon `page_url` declared when it was fetched, if still in memory."""
        with self._lock:
            site = self._pages.get(page_url)
            return self._icons.get(site) if site else None

    async def icon(self, icon_url: str, page_url: str, download: Download) -> str | None:
        """The icon of `page_url`'s site: from memory, else `download(icon_url)` once (pages
        of one site arriving together share the one download)."""
        site = _site(page_url)
        loop = asyncio.get_running_loop()
        key = (id(loop), site)
        with self._lock:
            _remember(self._pages, page_url, site, self._capacity * 16)
            if site in self._icons:
                self._icons.move_to_end(site)
                return self._icons[site]
            pending = self._pending.get(key)
            if pending is None:
                future: asyncio.Future[str | None] = loop.create_future()
                self._pending[key] = future
        if pending is not None:
            return await asyncio.shield(pending)
        try:
            icon = await _fetch_icon(icon_url, download)
            with self._lock:
                _remember(self._icons, site, icon, self._capacity)
            future.set_result(icon)
            return icon
        finally:
            if not future.done():
                future.set_result(None)
            with self._lock:
                del self._pending[key]


def _remember(entries: OrderedDict[str, V], key: str, value: V, capacity: int) -> None:
    entries[key] = value
    entries.move_to_end(key)
    while len(entries) > capacity:
        entries.popitem(last=False)


def _site(url: str) -> str:
    return httpx.URL(url).netloc.decode("ascii", "replace").lower()


async def _fetch_icon(url: str, download: Download) -> str | None:
    try:
        body = await download(url)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a failing icon only means no icon
        logger.info("no icon from %s: %s", url, exc)
        return None
    icon = png_data_uri(body)
    if icon is None:
        logger.info("no icon from %s: not a raster image", url)
    return icon
