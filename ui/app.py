"""The browser UI (`megrez-search ui`): a Gradio chat over one shared `SearchAgent`.

Each browser keeps its conversation's thread id in localStorage (`gr.BrowserState`, with a
secret kept in the data dir so it still decrypts after a restart); the conversation itself
lives in the agent's SQLite checkpointer. So a reload or a restart shows the same chat, and
several browsers talk to the agent at once with independent threads: the queue runs up to
`settings.ui_concurrency` turns concurrently, and the model backend serialises only its own
calls, so one user's searching and fetching overlaps another's answer.
"""

from __future__ import annotations

import logging
import mimetypes
import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from megrez_search.agent.api import AskRequest, SearchAgent
from megrez_search.ui.conversation import ChatMessage, TurnView, messages_from_turns, notice
from megrez_search.ui.render import plain

from megrez_search.errors import MegrezSearchError
from megrez_search.settings import MAX_PAGES, Settings

log = logging.getLogger(__name__)

BROWSER_STORAGE_KEY = "megrez-search-thread"
TITLE = "Megrez Search"


@dataclass
class Attachments:
    image: Path | None = None
    audio: Path | None = None
    problems: tuple[str, ...] = ()


def ui_secret(settings: Settings) -> str:
    """The key that encrypts the thread id in the browser; kept so it survives restarts."""
    path = settings.data_dir / "ui-secret"
    try:
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    path.write_text(secret, encoding="utf-8")
    path.chmod(0o600)
    return secret


def uploads_dir(settings: Settings) -> Path:
    """Where attachments are kept: Gradio's temp files go, the conversation stays."""
    return settings.data_dir / "uploads"


def keep_attachments(files: list[Any], settings: Settings) -> Attachments:
    """Sort uploaded/recorded files into one image and one audio clip, copied to the data dir."""
    image: Path | None = None
    audio: Path | None = None
    problems: list[str] = []
    for item in files or []:
        path = Path(item["path"] if isinstance(item, dict) else getattr(item, "path", item))
        mime = mimetypes.guess_type(path.name)[0] or ""
        kind = (
            "image"
            if mime.startswith("image/")
            else "audio"
            if mime.startswith(("audio/", "video/webm"))
            else None
        )
        if kind is None:
            problems.append(f"cannot use {path.name}: attach an image or a voice recording")
            continue
        if (image if kind == "image" else audio) is not None:
            problems.append(f"only one {kind} per question is used; {path.name} was left out")
            continue
        try:
            target = uploads_dir(settings) / f"{uuid.uuid4().hex}{path.suffix.lower()}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        except OSError as exc:
            log.warning("cannot keep upload %s: %s", path, exc)
            problems.append(f"cannot read {path.name}: {exc.strerror or exc}")
            continue
        if kind == "image":
            image = target
        else:
            audio = target
    return Attachments(image, audio, tuple(problems))


class ChatUI:
    """The event handlers, bound to one agent; `build()` lays out the page."""

    def __init__(self, agent: SearchAgent, settings: Settings) -> None:
        self.agent = agent
        self.settings = settings

    # --- handlers -------------------------------------------------------------------------------

    def past_chats(self, selected: str | None = None) -> dict[str, Any]:
        choices = [(info.title, info.thread_id) for info in self.agent.threads()]
        known = {value for _, value in choices}
        return gr.update(choices=choices, value=selected if selected in known else None)

    def open_thread(self, thread_id: str | None) -> list[ChatMessage]:
        if not thread_id:
            return []
        try:
            return messages_from_turns(self.agent.turns(thread_id))
        except Exception:
            log.exception("cannot read conversation %s", thread_id)
            return [notice("This conversation could not be read; start a new chat.")]

    def on_load(self, stored: dict[str, Any] | None) -> tuple[Any, ...]:
        stored = stored or {}
        thread_id = stored.get("thread_id")
        search = bool(stored.get("search", True))
        return self.open_thread(thread_id), thread_id, self.past_chats(thread_id), search

    def on_pick(self, thread_id: str | None, search: bool) -> tuple[Any, ...]:
        return self.open_thread(thread_id), thread_id, browser_state(thread_id, search)

    def on_new_chat(self, search: bool) -> tuple[Any, ...]:
        return [], None, browser_state(None, search), self.past_chats(None), ""

    def on_toggle(self, thread_id: str | None, search: bool) -> dict[str, Any]:
        return browser_state(thread_id, search)

    def on_stop(self, thread_id: str | None) -> None:
        if thread_id and not self.agent.stop(thread_id):
            log.info("stop: nothing running in %s", thread_id)

    def respond(
        self,
        box: dict[str, Any] | None,
        thread_id: str | None,
        search: bool,
        provider: str,
        pages: float | None = None,
        deep: bool = False,
    ) -> Iterator[tuple[Any, ...]]:
        """Run one turn, yielding (chat, box, thread, stored thread, past chats, status) updates."""
        box = box or {}
        text = str(box.get("text") or "")
        thread_id = thread_id or uuid.uuid4().hex
        earlier = self.open_thread(thread_id)
        attachments = keep_attachments(list(box.get("files") or []), self.settings)
        view = TurnView(
            question=text,
            image=str(attachments.image) if attachments.image else None,
            audio=str(attachments.audio) if attachments.audio else None,
        )
        for problem in attachments.problems:
            view.add_notice(problem)
        stored = browser_state(thread_id, search)

        cleared = False

        def update(past: Any = None) -> tuple[Any, ...]:
            # The box is emptied once, when the question is taken: later updates leave it
            # alone so that the next question can be typed while this answer streams.
            nonlocal cleared
            box_update = gr.skip() if cleared else gr.update(value=None)
            cleared = True
            past = gr.skip() if past is None else past
            return earlier + view.messages(), box_update, thread_id, stored, past, view.status()

        if not text.strip() and attachments.image is None and attachments.audio is None:
            view.add_notice("Type a question, or attach an image or a voice recording.")
            view.finished = view.failed = True
            yield update()
            return
        request = AskRequest(
            question=text,
            thread_id=thread_id,
            search=bool(search),
            provider=provider.strip() or None,
            pages=int(pages) if pages else None,
            deep=bool(deep),
            image=attachments.image,
            audio=attachments.audio,
        )
        yield update()
        try:
            # Every event is shown at once (Gradio sends only the change): holding tokens
            # back to batch them would leave them unseen whenever the model pauses.
            for event in self.agent.stream(request):
                view.apply(event)
                yield update()
        except MegrezSearchError as exc:
            log.warning("question not run: %s", exc)
            view.add_notice(str(exc))
            view.failed = True
        except Exception as exc:
            log.exception("turn failed")
            view.add_notice(f"Something went wrong ({type(exc).__name__}: {exc}); try again.")
            view.failed = True
        view.finished = True
        yield update(self.past_chats(thread_id))

    # --- layout ---------------------------------------------------------------------------------

    def active_settings(self) -> str:
        try:
            model = f"{self.agent.runtime.model.name} ({self.agent.runtime.dialect} dialect)"
        except Exception:  # noqa: BLE001 - a remote model's name may need the server
            model = self.settings.model
        rows = [
            ("Model", model),
            ("Search providers", self.settings.search),
            ("Pages per question", str(self.settings.pages)),
            ("Data", str(self.settings.data_dir)),
        ]
        # A list, not a table: the sidebar is too narrow for two columns.
        lines = "\n".join(f"- **{name}:** {plain(value)}" for name, value in rows)
        return (
            "**Active at start-up**\n\n" + lines + "\n\nThe provider chain and pages above "
            "apply to this chat. The defaults and the model are set at start-up with command-line "
            "flags or `MEGREZ_*` environment variables (e.g. `megrez-search --model PATH ui`)."
        )

    def build(self) -> gr.Blocks:
        with gr.Blocks(title=TITLE, fill_height=True) as demo:
            stored = gr.BrowserState(
                {"thread_id": None},
                storage_key=BROWSER_STORAGE_KEY,
                secret=ui_secret(self.settings),
            )
            thread = gr.State(None)
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=220):
                    gr.Markdown(f"## {TITLE}")
                    new_chat = gr.Button("New chat", variant="secondary", elem_id="new-chat")
                    past = gr.Dropdown(
                        label="Past chats",
                        choices=[],
                        value=None,
                        interactive=True,
                        elem_id="past-chats",
                    )
                    with gr.Accordion("Settings", open=False, elem_id="settings"):
                        provider = gr.Textbox(
                            label="Search provider chain (this chat)",
                            value=self.settings.search,
                            elem_id="provider",
                        )
                        pages = gr.Slider(
                            label="Pages to read per question (this chat)",
                            minimum=1,
                            maximum=MAX_PAGES,
                            step=1,
                            value=self.settings.pages,
                            elem_id="pages",
                        )
                        gr.Markdown(self.active_settings())
                with gr.Column(scale=4):
                    chatbot = gr.Chatbot(
                        label="Conversation",
                        elem_id="chat",
                        height="70vh",
                        latex_delimiters=[],  # `$` in page text is not maths
                        sanitize_html=True,
                        allow_tags=False,
                        feedback_options=None,
                        buttons=["copy"],
                        placeholder="Ask a question. Answers cite their sources as [1], [2], …",
                    )
                    with gr.Row():
                        search = gr.Checkbox(
                            value=True, label="Web search", elem_id="search-toggle"
                        )
                        # Deep mode: sub-questions researched in rounds (agent/deep).
                        deep = gr.Checkbox(
                            value=False, label="Deep research", elem_id="deep-toggle"
                        )
                        stop = gr.Button("Stop", variant="stop", size="sm", elem_id="stop")
                    status = gr.Markdown("", elem_id="status")
                    box = gr.MultimodalTextbox(
                        placeholder="Ask anything — or drop an image, or record a voice question",
                        sources=["upload", "microphone"],
                        file_types=["image", "audio"],
                        file_count="multiple",
                        show_label=False,
                        elem_id="question",
                    )

            demo.load(self.on_load, inputs=[stored], outputs=[chatbot, thread, past, search])
            search.input(self.on_toggle, inputs=[thread, search], outputs=[stored], queue=False)
            box.submit(
                self.respond,
                inputs=[box, thread, search, provider, pages, deep],
                outputs=[chatbot, box, thread, stored, past, status],
                concurrency_id="ask",
                show_progress="hidden",
            )
            stop.click(self.on_stop, inputs=[thread], outputs=None, queue=False)
            new_chat.click(
                self.on_new_chat,
                inputs=[search],
                outputs=[chatbot, thread, stored, past, status],
                queue=False,
            )
            past.input(self.on_pick, inputs=[past, search], outputs=[chatbot, thread, stored])
        demo.queue(default_concurrency_limit=self.settings.ui_concurrency)
        return demo


def browser_state(thread_id: str | None, search: bool) -> dict[str, Any]:
    """What the browser keeps across reloads: its conversation and the search toggle."""
    return {"thread_id": thread_id, "search": bool(search)}


def build_app(agent: SearchAgent, settings: Settings) -> gr.Blocks:
    return ChatUI(agent, settings).build()


def launch_ui(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    *,
    agent: SearchAgent | None = None,
    block: bool = True,
) -> gr.Blocks:
    """Start the UI at http://host:port; with `block=False` it returns once serving."""
    agent = agent or SearchAgent(settings)
    demo = build_app(agent, settings)
    uploads = uploads_dir(settings)
    uploads.mkdir(parents=True, exist_ok=True)
    demo.launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        allowed_paths=[str(uploads)],
        max_file_size=settings.max_upload_bytes,
        prevent_thread_lock=not block,
        ssr_mode=False,
        footer_links=[],
        quiet=True,
    )
    return demo
