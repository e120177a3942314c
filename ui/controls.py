"""The state of the page's controls that follows the chat: Regenerate and Copy only when
there is an answer to regenerate or copy, the "Search in" picker only while search is on."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from agent.api import SearchAgent

log = logging.getLogger(__name__)

#: The theme picker's choices; chrome.js applies the pick and keeps it in localStorage.
THEMES = ["System", "Light", "Dark"]


def has_answer(agent: SearchAgent, thread_id: str | None, user: str) -> bool:
    """Whether the chat holds an answer (with text) that Regenerate or Copy can act on."""
    if not thread_id:
        return False
    try:
        turns = agent.turns(thread_id, user)
    except Exception:
        log.exception("cannot read conversation %s", thread_id)
        return False
    return any(t.get("role") == "assistant" and str(t.get("content") or "").strip() for t in turns)


def answer_tools(agent: SearchAgent, thread_id: str | None, user: str) -> list[Any]:
    """Updates of Regenerate and Copy answer, in that order."""
    enabled = has_answer(agent, thread_id, user)
    return [gr.update(interactive=enabled), gr.update(interactive=enabled)]


def scope_picker(search: bool) -> Any:
    """ "Search in" is a choice only while search is on."""
    return gr.update(interactive=bool(search))
