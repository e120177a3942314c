"""Retrieval: search providers, safe concurrent fetching, cleaning, passage ranking, local index.

Turns a query into ranked, cleaned passages with their sources. Imports nothing from `agent/`
or `ui/`. The public API lives in `types`, `search`, `fetch`, `rank`, `query` and `index`.
"""
