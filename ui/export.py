"""Answers and whole conversations as Markdown files people keep: copy an answer with its
sources, export a chat.

The text is for other Markdown viewers, which render raw HTML: so everything is escaped
like the chat (`ui.render`), citations stay `[N]` and sources are listed with their URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ui.render import plain, plain_answer, safe_url, site_of

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def sources_markdown(sources: Iterable[Mapping[str, Any]]) -> str:
    lines = []
    for source in sources:
        url = str(source.get("url", ""))
        title = plain(str(source.get("title") or url))
        target = safe_url(url)
        site = site_of(url)
        shown = f"[{title}]({target})" if target else title
        lines.append(f"{int(source['n'])}. {shown}" + (f" — {plain(site)}" if site else ""))
    return "Sources:\n\n" + "\n".join(lines) if lines else ""


def answer_markdown(answer: str, sources: Sequence[Mapping[str, Any]]) -> str:
    """One answer with its numbered sources: what "Copy answer" puts on the clipboard."""
    parts = [plain_answer(answer, sources), sources_markdown(sources)]
    return "\n\n".join(part for part in parts if part).strip() + "\n"


def conversation_markdown(title: str, turns: Iterable[Mapping[str, Any]]) -> str:
    """A whole conversation: each question as a heading, each answer with its sources."""
    parts = [f"# {plain(title) or 'Conversation'}"]
    for turn in turns:
        content = str(turn.get("content") or "")
        if turn.get("role") == "user":
            parts.append(f"## {plain(content) or '(voice or image question)'}")
        else:
            parts.append(answer_markdown(content, list(turn.get("sources") or [])).strip())
    return "\n\n".join(parts) + "\n"


def last_answer(turns: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((t for t in reversed(turns) if t.get("role") == "assistant"), None)


def export_name(title: str) -> str:
    """A file name for the export of a chat titled `title`."""
    stem = _SAFE_NAME.sub("-", title.strip())[:60].strip("-").lower()
    return f"{stem or 'conversation'}.md"
