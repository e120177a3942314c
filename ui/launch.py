"""Building and starting the chat page: `ChatUI`'s handlers in `layout`'s page, served by
Gradio with its login page when accounts exist."""

from __future__ import annotations

import gradio as gr
from megrez_search.agent.api import SearchAgent
from megrez_search.ui.app import ChatUI
from megrez_search.ui.assets import head_script, launch_assets
from megrez_search.ui.attachments import uploads_dir
from megrez_search.ui.csp import content_security_policy
from megrez_search.ui.layout import build_layout
from megrez_search.ui.login import LOGIN_MESSAGE, login_check

from megrez_search.settings import Settings


def build_app(agent: SearchAgent, settings: Settings) -> gr.Blocks:
    return build_layout(ChatUI(agent, settings))


def launch_ui(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    *,
    agent: SearchAgent | None = None,
    block: bool = True,
) -> gr.Blocks:
    """Start the UI at http://host:port; with `block=False` it returns once serving."""
    return launch_chat(ChatUI(agent or SearchAgent(settings), settings), host, port, block=block)


def launch_chat(
    ui: ChatUI, host: str | None = None, port: int | None = None, *, block: bool = True
) -> gr.Blocks:
    settings = ui.settings
    demo = build_layout(ui)
    uploads = uploads_dir(settings)
    uploads.mkdir(parents=True, exist_ok=True)
    exports = settings.data_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    auth = login_check(ui.agent.store)
    demo.launch(
        auth=auth,
        auth_message=LOGIN_MESSAGE if auth else None,
        server_name=host or settings.host,
        server_port=port or settings.port,
        allowed_paths=[str(uploads), str(exports)],
        max_file_size=settings.max_upload_bytes,
        prevent_thread_lock=not block,
        ssr_mode=False,
        footer_links=[],
        quiet=True,
        app_kwargs={"middleware": [content_security_policy([head_script()])]},
        **launch_assets(),
    )
    return demo
