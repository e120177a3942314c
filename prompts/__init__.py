"""Prompt templates as data (`*.toml`, `*.json`), read through `importlib.resources`."""
