"""Gradio events over plain HTTP, as the browser sends them: `queue/join`, then `queue/data`.

For tests that check who may run an event (a session cookie in an `httpx.Client`) without a
browser: `call_event` answers the event's output, or the HTTP status that refused it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx


def call_event(client: httpx.Client, api_name: str, data: list[Any]) -> list[Any] | int:
    """Run the page's event `api_name` with inputs `data` in `client`'s session; its output
    values, or the status code of a refused join."""
    config = client.get("/config")
    if config.status_code != 200:
        return config.status_code
    dependency = next(d for d in config.json()["dependencies"] if d.get("api_name") == api_name)
    session = uuid.uuid4().hex
    joined = client.post(
        "/gradio_api/queue/join",
        json={
            "data": data,
            "event_data": None,
            "fn_index": dependency["id"],
            "trigger_id": (dependency.get("targets") or [[None]])[0][0],
            "session_hash": session,
        },
    )
    if joined.status_code != 200:
        return joined.status_code
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as sse:
        for line in sse.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line.removeprefix("data:"))
            if message.get("msg") == "process_completed":
                if not message.get("success"):
                    raise AssertionError(f"event {api_name} failed: {message}")
                return list(message["output"]["data"])
    raise AssertionError(f"event {api_name}: the stream ended without a result")


def join_status(client: httpx.Client, fn_index: int) -> int:
    """The status of a bare `queue/join` (no config read first: a client without a session)."""
    body = {"data": [], "event_data": None, "fn_index": fn_index, "session_hash": "x"}
    return client.post("/gradio_api/queue/join", json=body).status_code
