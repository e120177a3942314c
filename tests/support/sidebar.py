"""The sidebar's past-chats list in a Playwright page (ui.sidebar): its titles, and a click
that opens one."""

from __future__ import annotations

from typing import Any


def chat_entries(page: Any, title: str | None = None) -> Any:
    """The list's entries (a label: title, then date), or those whose title has `title`."""
    entries = page.locator("#past-chats label")
    return entries if title is None else entries.filter(has_text=title)


def listed_chats(page: Any) -> list[str]:
    """The titles in the list, top to bottom (without their dates)."""
    texts = chat_entries(page).all_inner_texts()
    return [text.strip().splitlines()[0] for text in texts if text.strip()]


def open_chat(page: Any, title: str) -> None:
    chat_entries(page, title).first.click()


def listed_as_open(page: Any, title: str) -> None:
    """Wait until the list shows the open chat, `title`, selected: it has caught up with the
    last turn (its update follows the answer's last one, and re-rendering the list drops a
    click that lands meanwhile)."""
    from playwright.sync_api import expect

    checked = page.locator("#past-chats label").filter(has=page.locator("input:checked"))
    expect(checked).to_contain_text(title)
