"""The page's own CSS and script (ui.css, ui.js, and the page chrome's chrome.css,
chrome.js, beside this module), passed to `launch`."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

SCRIPTS = ("ui.js", "chrome.js")
STYLES = ("ui.css", "chrome.css")


@cache
def asset(name: str) -> str:
    return files("ui").joinpath(name).read_text(encoding="utf-8")


def head_script() -> str:
    """The text of the page's one inline script (the Content-Security-Policy allows it by
    its hash: Gradio re-creates it from `head` with exactly this text)."""
    return "\n" + "\n".join(asset(name) for name in SCRIPTS) + "\n"


def launch_assets() -> dict[str, Any]:
    """`css` and `head` for `Blocks.launch` (Gradio 6 takes them there, not in Blocks)."""
    css = "\n".join(asset(name) for name in STYLES)
    return {"css": css, "head": f"<script>{head_script()}</script>"}
