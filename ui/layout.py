"""The page: a sidebar of chats (behind a button on a phone) and the conversation, with
its controls next to the message box. Every control has a visible label or an aria label
and an `elem_id` the browser tests (and other features) use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr
from megrez_search.ui.attachments import DOCUMENT_SUFFIXES, ui_secret
from megrez_search.ui.chats import WEB_SCOPE, scope_choices
from megrez_search.ui.collections import collections_panel
from megrez_search.ui.render import plain

from megrez_search.settings import MAX_PAGES

if TYPE_CHECKING:
    from megrez_search.ui.app import ChatUI

BROWSER_STORAGE_KEY = "megrez-search-thread"
TITLE = "Megrez Search"


def active_settings(ui: ChatUI) -> str:
    try:
        model = f"{ui.agent.runtime.model.name} ({ui.agent.runtime.dialect} dialect)"
    except Exception:  # noqa: BLE001 - a remote model's name may need the server
        model = ui.settings.model
    rows = [
        ("Model", model),
        ("Search providers", ui.settings.search),
        ("Pages per question", str(ui.settings.pages)),
        ("Data", str(ui.settings.data_dir)),
    ]
    # A list, not a table: the sidebar is too narrow for two columns.
    lines = "\n".join(f"- **{name}:** {plain(value)}" for name, value in rows)
    return (
        "**Active at start-up**\n\n" + lines + "\n\nThe provider chain and pages above "
        "apply to this chat. More models to pick from are listed in `MEGREZ_MODELS`; the "
        "defaults are set with command-line flags or `MEGREZ_*` environment variables."
    )


def build_layout(ui: ChatUI) -> gr.Blocks:
    settings = ui.settings
    with gr.Blocks(title=TITLE, fill_height=True) as demo:
        stored = gr.BrowserState(
            {"thread_id": None}, storage_key=BROWSER_STORAGE_KEY, secret=ui_secret(settings)
        )
        thread = gr.State(None)
        with gr.Sidebar(label="Chats", elem_id="sidebar", width=300):
            gr.Markdown(f"## {TITLE}")
            new_chat = gr.Button("New chat", variant="secondary", elem_id="new-chat")
            find = gr.Textbox(
                label="Search chats", placeholder="Title or text", elem_id="chat-search"
            )
            found = gr.Markdown("", elem_id="chat-search-count")
            past = gr.Dropdown(
                label="Past chats", choices=[], value=None, interactive=True, elem_id="past-chats"
            )
            delete = gr.Button("Delete this chat", size="sm", elem_id="delete-chat")
            with gr.Accordion("Settings", open=False, elem_id="settings"):
                provider = gr.Textbox(
                    label="Web search provider chain (this chat)",
                    value=settings.search,
                    elem_id="provider",
                )
                pages = gr.Slider(
                    label="Pages to read per question (this chat)",
                    minimum=1,
                    maximum=MAX_PAGES,
                    step=1,
                    value=settings.pages,
                    elem_id="pages",
                )
                memory = gr.Checkbox(
                    label="Answer from memory if the search fails (labelled unsourced)",
                    value=settings.memory_fallback,
                    elem_id="memory-fallback",
                )
                gr.Markdown(active_settings(ui))
            collections_panel(ui.collections, thread)
        chatbot = gr.Chatbot(
            label="Conversation",
            elem_id="chat",
            height="68vh",
            latex_delimiters=[],  # `$` in page text is not maths
            # Messages arrive as HTML from ui.render (one Markdown parser, on the server).
            render_markdown=False,
            sanitize_html=True,
            allow_tags=False,
            feedback_options=None,
            buttons=[],
            placeholder="Ask a question. Answers cite their sources as [1], [2], …",
        )
        status = gr.Markdown("", elem_id="status")
        with gr.Row(elem_id="followups"):
            chips = [
                gr.Button("", visible=False, size="sm", elem_classes=["followup"]) for _ in range(3)
            ]
        box = gr.MultimodalTextbox(
            placeholder="Ask anything — or drop a document or an image, or record a voice question",
            sources=["upload", "microphone"],
            file_types=["image", "audio", *DOCUMENT_SUFFIXES],
            file_count="multiple",
            label="Your question",
            show_label=False,
            elem_id="question",
        )
        with gr.Row(elem_id="controls"):
            search = gr.Checkbox(
                value=True, label="Web search", elem_id="search-toggle", scale=0, min_width=130
            )
            # Deep mode: sub-questions researched in rounds (agent/deep).
            deep = gr.Checkbox(
                value=False, label="Deep research", elem_id="deep-toggle", scale=0, min_width=150
            )
            scope = gr.Dropdown(
                label="Search in",
                choices=scope_choices(settings),
                value=WEB_SCOPE,
                elem_id="scope",
                scale=1,
                min_width=140,
            )
            model = gr.Dropdown(
                label="Model",
                choices=ui.agents.choices,
                value=settings.model,
                visible=len(ui.agents.choices) > 1,
                elem_id="model",
                scale=1,
                min_width=160,
            )
            stop = gr.Button("Stop (Esc)", variant="stop", size="sm", visible=False, elem_id="stop")
        with gr.Row(elem_id="answer-tools"):
            regenerate = gr.Button("Regenerate", size="sm", elem_id="regenerate")
            copy = gr.Button("Copy answer", size="sm", elem_id="copy-answer")
            export = gr.DownloadButton(
                "Export chat", size="sm", interactive=False, elem_id="export"
            )
        # "Copy answer" writes the Markdown here, escaped in a <pre>, and ui.js copies it: no
        # `js=` snippet and no gr.HTML, which Gradio runs through the AsyncFunction
        # constructor (the CSP would need 'unsafe-eval').
        clipboard = gr.Markdown("", visible="hidden", elem_id="clipboard")

        turn_inputs = [thread, search, provider, pages, scope, model, memory, deep]
        turn_outputs = [chatbot, box, thread, stored, past, status, stop, export]
        chain: dict[str, Any] = {"concurrency_id": "ask", "show_progress": "hidden"}

        def then_followups(event: gr.events.Dependency) -> None:
            event.then(ui.followups, [thread, model], chips, show_progress="hidden")

        demo.load(
            ui.on_load, inputs=[stored], outputs=[chatbot, thread, past, search, model, export]
        )
        for control in (search, model):
            control.input(ui.on_settings, [thread, search, model], [stored], queue=False)
        submitted = box.submit(lambda: hidden_chips_update(), None, chips, queue=False).then(
            ui.respond, [box, *turn_inputs], turn_outputs, **chain
        )
        then_followups(submitted)
        for chip in chips:
            asked = chip.click(ui.respond, [chip, *turn_inputs], turn_outputs, **chain)
            then_followups(asked)
        for trigger in (regenerate.click, chatbot.retry):
            again = trigger(ui.regenerate, turn_inputs, turn_outputs, **chain)
            then_followups(again)
        stop.click(ui.on_stop, inputs=[thread], outputs=None, queue=False)
        copy.click(lambda: "", None, clipboard, queue=False).then(
            ui.clipboard_html, [thread], [clipboard], queue=False
        )
        new_chat.click(
            ui.on_new_chat,
            [search, model],
            [chatbot, thread, stored, past, status, found, export, *chips],
            queue=False,
        )
        # The Chatbot's own "Clear" (trash) icon starts a new chat; the old one stays listed.
        chatbot.clear(
            ui.on_new_chat,
            [search, model],
            [chatbot, thread, stored, past, status, found, export, *chips],
            queue=False,
        )
        delete.click(
            ui.on_delete,
            [thread, search, model],
            [chatbot, thread, stored, past, status, found, export, *chips],
            queue=False,
        )
        find.change(ui.on_search_chats, [find, thread], [past, found], queue=False)
        past.input(
            ui.on_pick, [past, search, model], [chatbot, thread, stored, model, export, *chips]
        )
    demo.queue(default_concurrency_limit=settings.ui_concurrency)
    return demo


def hidden_chips_update() -> list[dict[str, object]]:
    return [gr.update(value="", visible=False) for _ in range(3)]
