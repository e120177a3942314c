"""A small site about `lru_cache` for the UI tests over a `ResponderModel`: the docs page
(`site/`) and a team's notes (`notes/`), each indexed as a `local:` index of its own."""

from __future__ import annotations

QUESTION = "What is the default maxsize of lru_cache?"

#: Paths under the served folder -> HTML.
PAGES = {
    "site/index.html": '<a href="cache.html">cache</a>',
    "site/cache.html": "<html><head><title>functools lru_cache maxsize</title></head><body>"
    "<main><h1>lru_cache maxsize</h1><p>The lru_cache decorator keeps recent calls. Its "
    "maxsize defaults to 128 entries; maxsize=None makes the cache unbounded.</p></main>"
    "</body></html>",
    "notes/index.html": "<html><head><title>Team notes on lru_cache</title></head><body><main>"
    "<p>Our team notes say the lru_cache maxsize default of 128 is fine for us.</p></main>"
    "</body></html>",
}
