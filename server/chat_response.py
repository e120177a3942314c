"""Agent results into OpenAI chat responses and stream chunks, with the Megrez extensions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent.result import AskResult


def same(message: str) -> str:
    return message


def extras(result: AskResult, scrub: Callable[[str], str] = same) -> dict[str, Any]:
    """`sources` and `megrez` of a response; `scrub` cleans messages meant for the client."""
    data = result.to_json()
    data["error"] = scrub(data["error"]) if data["error"] else data["error"]
    data["failures"] = [scrub(failure) for failure in data["failures"]]
    megrez = {
        key: data[key]
        for key in (
            "answer",
            "searched",
            "queries",
            "citations",
            "claims",
            "thread_id",
            "timings",
            "failures",
            "error",
            "stopped",
            "provider",
            "research",
        )
    }
    megrez.update(data["input"])
    return {"sources": data["sources"], "megrez": megrez}


def usage(result: AskResult) -> dict[str, int]:
    prompt, completion = result.tokens.get("prompt", 0), result.tokens.get("completion", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion_response(
    result: AskResult,
    model: str,
    completion_id: str,
    created: int,
    scrub: Callable[[str], str] = same,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer},
                "finish_reason": "stop",
            }
        ],
        "usage": usage(result),
        **extras(result, scrub),
    }


def chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    **extra: Any,
) -> str:
    data = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
