"""The Content-Security-Policy middleware (issue 20 item 2) on a small Starlette app: every
response carries the policy, an HTML page's inline scripts carry that response's nonce, and
streams and other bodies pass through untouched."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ui.assets import head_script, launch_assets
from ui.csp import content_security_policy, script_hash

PAGE = (
    "<html><head><script>window.config = {};</script>"
    '<script type="module" src="./assets/index.js"></script></head>'
    "<body><p>no &lt;script here</p><script >done()</script></body></html>"
)


def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


def data(request: Request) -> Response:
    return JSONResponse({"text": "<script>x</script>"})


def stream(request: Request) -> Response:
    async def events() -> AsyncIterator[bytes]:
        for n in range(3):
            yield f"data: {n}\n\n".encode()

    return StreamingResponse(events(), media_type="text/event-stream")


def client() -> TestClient:
    app = Starlette(
        routes=[Route("/", page), Route("/data", data), Route("/stream", stream)],
        middleware=[content_security_policy(["\nwindow.ours = 1;\n"])],
    )
    return TestClient(app)


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_html_page_scripts_carry_the_nonce_of_its_policy() -> None:
    response = client().get("/")
    policy = directives(response.headers["content-security-policy"])
    assert policy["img-src"] == "'self' data:" and policy["object-src"] == "'none'"
    nonce = re.search(r"'nonce-([^']+)'", policy["script-src"])
    assert nonce is not None
    assert script_hash("\nwindow.ours = 1;\n") in policy["script-src"]
    assert "unsafe" not in policy["script-src"]
    body = response.text
    assert body.count(f'<script nonce="{nonce.group(1)}"') == 3 and body.count("<script") == 3
    assert "no &lt;script here" in body
    assert int(response.headers["content-length"]) == len(response.content)
    again = client().get("/").headers["content-security-policy"]
    assert nonce.group(1) not in again  # a fresh nonce per response


def test_other_responses_get_the_policy_and_keep_their_body() -> None:
    with client() as http:
        data = http.get("/data")
        assert data.json() == {"text": "<script>x</script>"}
        assert "img-src 'self' data:" in data.headers["content-security-policy"]
        streamed = http.get("/stream")
        assert streamed.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
        assert "content-security-policy" in streamed.headers


def test_the_head_script_hash_is_of_the_text_gradio_recreates() -> None:
    head = launch_assets()["head"]
    assert head == f"<script>{head_script()}</script>"
