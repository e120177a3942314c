"""Building and starting the chat page: `ChatUI`'s handlers in `layout`'s page, served by
Gradio with its login page when accounts exist, behind `ui.guard` (sessions and files bound
to their user). No folder of the data dir is an allowed path: the page shows `ui.owned`'s
copies."""

from __future__ import annotations

import gradio as gr
from starlette.middleware import Middleware

from agent.api import SearchAgent
from core.settings import Settings
from ui.app import ChatUI
from ui.assets import head_script, launch_assets
from ui.csp import content_security_policy
from ui.guard import UserGuard
from ui.layout import build_layout
from ui.login import login_guard, login_message, trust_forwarded_from
from ui.search_engine import search_engine
from wiring import search_agent


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
    return launch_chat(ChatUI(agent or search_agent(settings), settings), host, port, block=block)


def launch_chat(
    ui: ChatUI, host: str | None = None, port: int | None = None, *, block: bool = True
) -> gr.Blocks:
    settings = ui.settings
    demo = build_layout(ui)
    guard = login_guard(ui.agent.store, settings)
    trust_forwarded_from(settings)
    # Outermost first: the CSP on every response; `/opensearch.xml` and its `<link>` in
    # every page (no sign-in needed); the sign-in guard (throttle, sessions ended by
    # passwd/remove) decides who is logged in; the user guard then binds sessions and
    # files to that user.
    middleware = [content_security_policy([head_script()]), search_engine()]
    if guard:
        middleware.append(guard.middleware())
    middleware.append(Middleware(UserGuard))
    demo.launch(
        # Typed as sync in Gradio, but its /login awaits a coroutine function (off-loop hashing).
        auth=guard.check if guard else None,  # type: ignore[arg-type]
        auth_message=login_message(settings) if guard else None,
        app_kwargs={"middleware": middleware},
        server_name=host or settings.server.host,
        server_port=port or settings.server.port,
        max_file_size=settings.server.max_upload_bytes,
        prevent_thread_lock=not block,
        ssr_mode=False,
        footer_links=[],
        quiet=True,
        **launch_assets(),
    )
    return demo
