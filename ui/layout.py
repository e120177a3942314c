"""The page: a sidebar of chats (behind a button on a phone) and the conversation, with
its controls next to the message box. Every control has a visible label or an aria label
and an `elem_id` the browser tests (and other features) use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from core.settings import MAX_PAGES
from ui.attachments import DOCUMENT_SUFFIXES, ui_secret
from ui.chats import WEB_SCOPE, scope_choices
from ui.collections import collections_panel
from ui.controls import THEMES, answer_tools, scope_picker
from ui.login import user_of
from ui.render import plain
from ui.search_engine import url_question
from ui.sidebar import ChatListView

if TYPE_CHECKING:
    from ui.app import ChatUI

BROWSER_STORAGE_KEY = "megrez-search-thread"
TITLE = "Megrez Search"


def active_settings(ui: ChatUI) -> str:
    try:
        model = f"{ui.agent.runtime.model.name} ({ui.agent.runtime.dialect} dialect)"
    except Exception:  # noqa: BLE001 - a remote model's name may need the server
        model = ui.settings.runtime.model
    rows = [
        ("Model", model),
        ("Search providers", ui.settings.retrieval.search),
        ("Pages per question", str(ui.settings.retrieval.pages)),
        ("Data", str(ui.settings.store.data_dir)),
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
        past = gr.State(None)  # the past-chats listing (ui.sidebar): a change re-renders it
        chats = ChatListView()
        with gr.Sidebar(label="Chats", elem_id="sidebar", width=300):
            new_chat = gr.Button("New chat", variant="secondary", elem_id="new-chat")
            chats.build()
            found = chats.found
            with gr.Accordion("Settings", open=False, elem_id="settings"):
                provider = gr.Textbox(
                    label="Web search provider chain (this chat)",
                    value=settings.retrieval.search,
                    elem_id="provider",
                )
                pages = gr.Slider(
                    label="Pages to read per question (this chat)",
                    minimum=1,
                    maximum=MAX_PAGES,
                    step=1,
                    value=settings.retrieval.pages,
                    elem_id="pages",
                )
                memory = gr.Checkbox(
                    label="Answer from memory if the search fails (labelled unsourced)",
                    value=settings.agent.memory_fallback,
                    elem_id="memory-fallback",
                )
                gr.Markdown(active_settings(ui))
            collections_panel(ui.collections, thread)
        # The page's one level-one heading, and the theme picker (chrome.js applies it).
        with gr.Row(elem_id="masthead", equal_height=True):
            gr.Markdown(f"# {TITLE}", elem_id="page-title")
            gr.Radio(
                THEMES,
                value="System",
                label="Theme",
                interactive=True,
                elem_id="theme",
                scale=0,
                min_width=300,
            )
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
                choices=ui.agent.engines.choices,
                value=settings.runtime.model,
                visible=len(ui.agent.engines.choices) > 1,
                elem_id="model",
                scale=1,
                min_width=160,
            )
            # Always laid out, hidden (ui.css) while nothing runs: showing it moves nothing.
            stop = gr.Button(
                "Stop (Esc)", variant="stop", size="sm", elem_id="stop", elem_classes=["idle"]
            )
        with gr.Row(elem_id="answer-tools"):
            # Enabled once the chat holds an answer (`tools` below).
            regenerate = gr.Button("Regenerate", size="sm", interactive=False, elem_id="regenerate")
            copy = gr.Button("Copy answer", size="sm", interactive=False, elem_id="copy-answer")
            export = gr.DownloadButton(
                "Export chat", size="sm", interactive=False, elem_id="export"
            )
        # "Copy answer" writes the Markdown here, escaped in a <pre>, and ui.js copies it: no
        # `js=` snippet and no gr.HTML, which Gradio runs through the AsyncFunction
        # constructor (the CSP would need 'unsafe-eval').
        clipboard = gr.Markdown("", visible="hidden", elem_id="clipboard")
        chats.undo_bar(settings.ui.undo_delete_s)
        # `/?q=…` (ui.search_engine): chrome.js waits for "ready", then writes the question here.
        page_ready = gr.Markdown("", visible="hidden", elem_id="page-ready")
        url_box = gr.Textbox("", visible="hidden", elem_id="url-question")

        turn_inputs = [thread, search, provider, pages, scope, model, memory, deep]
        turn_outputs = [chatbot, box, thread, stored, past, status, stop, export]
        chain: dict[str, Any] = {"concurrency_id": "ask", "show_progress": "hidden"}

        def tools(thread_id: str | None, request: gr.Request) -> list[Any]:
            return answer_tools(ui.agent, thread_id, user_of(request))

        def then_followups(event: gr.events.Dependency) -> None:
            event.then(ui.followups, [thread, model], chips, show_progress="hidden")
            event.then(tools, [thread], [regenerate, copy], queue=False)

        demo.load(
            ui.on_load, inputs=[stored], outputs=[chatbot, thread, past, search, model, export]
        ).then(lambda: "ready", None, page_ready, queue=False)
        thread.change(tools, [thread], [regenerate, copy], queue=False)
        search.change(scope_picker, [search], [scope], queue=False)
        for control in (search, model):
            control.input(ui.on_settings, [thread, search, model], [stored], queue=False)
        # Each way of asking first hides the last answer's chips (`ui.on_ask`).
        submitted = box.submit(ui.on_ask, None, chips, queue=False).then(
            ui.respond, [box, *turn_inputs], turn_outputs, **chain
        )
        then_followups(submitted)
        for chip in chips:
            asked = chip.click(ui.on_ask, None, chips, queue=False).then(
                ui.respond, [chip, *turn_inputs], turn_outputs, **chain
            )
            then_followups(asked)
        # One retry control: Regenerate (no per-message retry or clear icons in the chat).
        again = regenerate.click(ui.on_ask, None, chips, queue=False).then(
            ui.regenerate, turn_inputs, turn_outputs, **chain
        )
        then_followups(again)
        asked_by_url = (
            url_box.submit(
                ui.on_new_chat,
                [search, model],
                [chatbot, thread, stored, past, status, found, export, *chips],
                queue=False,
            )
            .then(url_controls, [url_box], [box, search, deep, url_box], queue=False)
            .then(ui.respond, [box, *turn_inputs], turn_outputs, **chain)
        )
        then_followups(asked_by_url)
        stop.click(ui.on_stop, inputs=[thread], outputs=None, queue=False)
        copy.click(lambda: "", None, clipboard, queue=False).then(
            ui.clipboard_html, [thread], [clipboard], queue=False
        )
        new_chat.click(
            ui.on_new_chat,
            [search, model],
            [chatbot, thread, stored, past, status, found, export, *chips],
        )
        # Regenerate and Copy go off at once: a State's change event follows queued events only.
        new_chat.click(lambda: [gr.update(interactive=False)] * 2, None, [regenerate, copy])
        # --- past chats (ui.sidebar) ---
        opened = [chatbot, thread, stored, model, export, *chips]
        new_outputs = [chatbot, thread, stored, past, status, found, export, *chips]
        bar = [chats.deleted, chats.bar, chats.timer]
        gr.on(
            [past.change, thread.change, chats.find.change],
            ui.sidebar.on_search_chats,
            [chats.find, thread],
            [*chats.groups, found],
            queue=False,
            show_progress="hidden",
        )
        gr.on(
            [past.change, thread.change],
            ui.sidebar.on_title,
            [thread],
            [chats.title],
            show_progress="hidden",
        )
        for group in chats.groups:
            group.input(ui.on_pick, [group, search, model], opened)
        gr.on(
            [chats.rename.click, chats.title.submit],
            ui.sidebar.on_rename,
            [thread, chats.title],
            [status, past],
        )
        chats.delete.click(ui.sidebar.on_delete, [thread], bar).success(
            ui.on_new_chat, [search, model], new_outputs
        ).then(tools, [thread], [regenerate, copy], queue=False)
        chats.undo.click(ui.sidebar.on_undo, [chats.deleted], [thread, *bar]).success(
            ui.on_pick, [thread, search, model], opened
        )
        chats.timer.tick(ui.sidebar.on_expire, None, bar, queue=False)
    demo.queue(default_concurrency_limit=settings.server.ui_concurrency)
    return demo


def url_controls(payload: str) -> list[Any]:
    """The message box, search and deep toggles for a question from `/?q=…` (and the hidden
    box emptied); nothing changes for a payload that holds no question."""
    asked = url_question(payload)
    if asked is None:
        return [gr.skip(), gr.skip(), gr.skip(), ""]
    return [{"text": asked.text, "files": []}, asked.search, asked.deep, ""]
