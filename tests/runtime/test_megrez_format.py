"""The Megrez chat format and function-call protocol, against the documented contract."""

from __future__ import annotations

import jinja2
import pytest

from runtime import Message
from runtime.megrez_format import (
    CHAT_TEMPLATE,
    DEFAULT_SYSTEM_PROMPT,
    parse_function_call,
    render_function_call,
    render_prompt,
)


def test_render_matches_documented_layout() -> None:
    messages = [Message("system", "SYS"), Message("user", "Hi"), Message("assistant", "Hello")]
    assert render_prompt(messages) == (
        "<|role_start|>system<|role_end|>SYS<|turn_end|>"
        "<|role_start|>user<|role_end|>Hi<|turn_end|>"
        "<|role_start|>assistant<|role_end|>Hello<|turn_end|>"
        "<|role_start|>assistant<|role_end|>"
    )


def test_default_system_prompt_inserted_like_the_template() -> None:
    rendered = render_prompt([Message("user", "Hi")], add_generation_prompt=False)
    assert rendered.startswith(
        f"<|role_start|>system<|role_end|>{DEFAULT_SYSTEM_PROMPT}<|turn_end|>"
    )


@pytest.mark.parametrize("with_system", [True, False])
def test_render_equals_jinja_template(with_system: bool) -> None:
    messages = ([Message("system", "S")] if with_system else []) + [
        Message("user", "Q"),
        Message("assistant", render_function_call("googleWebSearch", {"query": "q"})),
        Message("observation", "[[citation:1]] ctx"),
    ]
    template = jinja2.Environment().from_string(CHAT_TEMPLATE)
    expected = template.render(
        messages=[{"role": m.role, "content": m.content} for m in messages],
        add_generation_prompt=True,
    )
    assert render_prompt(messages) == expected


def test_function_call_round_trip() -> None:
    text = "Let me look.\n" + render_function_call(
        "googleWebSearch", {"query": "lru_cache maxsize"}
    )
    call = parse_function_call(text)
    assert call == {"name": "googleWebSearch", "arguments": {"query": "lru_cache maxsize"}}


@pytest.mark.parametrize(
    "text",
    [
        "no call at all",
        "<|function_start|>{not json}<|function_end|>",
        '<|function_start|>["a list"]<|function_end|>',
        '<|function_start|>{"name": 3, "arguments": {}}<|function_end|>',
        '<|function_start|>{"name": "googleWebSearch", "arguments": "q"}<|function_end|>',
    ],
)
def test_invalid_function_calls_are_no_call(text: str) -> None:
    assert parse_function_call(text) is None


def test_function_call_without_end_marker_is_tolerated() -> None:
    call = parse_function_call('<|function_start|>{"name": "f", "arguments": {"query": "x"}}')
    assert call is not None and call["arguments"] == {"query": "x"}
