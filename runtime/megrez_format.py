"""Megrez-3B's chat format, exactly as its tokenizer's chat template renders it.

See ../shared/reference/megrez.md: no newlines between messages, each message is
`<|role_start|>{role}<|role_end|>{content}<|turn_end|>`, generation starts after
`<|role_start|>assistant<|role_end|>`, no BOS token, and `<|turn_end|>` is the stop token.
When the first message is not a system message the template inserts a default (Chinese)
system prompt; we reproduce that so our rendering is token-identical to the model's own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .base import Message

ROLE_START = "<|role_start|>"
ROLE_END = "<|role_end|>"
TURN_END = "<|turn_end|>"
EOS = "<|eos|>"
FUNCTION_START = "<|function_start|>"
FUNCTION_END = "<|function_end|>"

#: The special tokens of Megrez's tokenizer (what a stand-in tokenizer must carry too).
SPECIAL_TOKENS = (
    EOS,
    "<|unk|>",
    "<|pad|>",
    ROLE_START,
    ROLE_END,
    TURN_END,
    FUNCTION_START,
    FUNCTION_END,
)

#: Stop strings for every Megrez call: `<|turn_end|>` is the real stop; early checkpoints
#: shipped a typo'd eos string, so it is always passed explicitly.
STOP = (TURN_END, EOS)

#: Megrez-3B-Instruct's default system prompt ("You are Megrez-3B-Instruct, please give
#: detailed and positive answers."), inserted by its template when none is given.
DEFAULT_SYSTEM_PROMPT = "你是Megrez-3B-Instruct，将针对用户的问题给出详细的、积极的回答。"

#: The template in Jinja form, as shipped in Megrez-3B-Instruct's tokenizer_config.json; used
#: by stand-in tokenizers in tests and by backends whose tokenizer lacks a template.
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|role_start|>system<|role_end|>" + DEFAULT_SYSTEM_PROMPT + "<|turn_end|>' }}"
    "{% endif %}"
    "{% for message in messages %}"
    "{{ '<|role_start|>' + message['role'] + '<|role_end|>' + message['content']"
    " + '<|turn_end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|role_start|>assistant<|role_end|>' }}{% endif %}"
)


def render_message(role: str, content: str) -> str:
    return f"{ROLE_START}{role}{ROLE_END}{content}{TURN_END}"


def render_prompt(messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
    """The exact text Megrez's template produces for `messages` (attachments ignored)."""
    parts: list[str] = []
    if not messages or messages[0].role != "system":
        parts.append(render_message("system", DEFAULT_SYSTEM_PROMPT))
    parts.extend(render_message(m.role, m.content) for m in messages)
    if add_generation_prompt:
        parts.append(f"{ROLE_START}assistant{ROLE_END}")
    return "".join(parts)


def render_function_call(name: str, arguments: dict[str, object]) -> str:
    """A function call as the model emits it (used for history turns and stand-ins)."""
    payload = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"{FUNCTION_START}{payload}{FUNCTION_END}"


def parse_function_call(text: str) -> dict[str, object] | None:
    """The first `<|function_start|>{json}<|function_end|>` in `text`, or None.

    Invalid JSON, or a payload without a string `name` and a dict `arguments`, is no call —
    the protocol's rule. A missing `<|function_end|>` (generation stopped on it) is tolerated.
    """
    start = text.find(FUNCTION_START)
    if start < 0:
        return None
    body = text[start + len(FUNCTION_START) :]
    end = body.find(FUNCTION_END)
    if end >= 0:
        body = body[:end]
    try:
        payload = json.loads(body.strip())
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    if not isinstance(payload.get("name"), str) or not isinstance(payload.get("arguments"), dict):
        return None
    return payload
