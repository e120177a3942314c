"""Megrez-3B-Omni (text + image + voice) through its own transformers `model.chat` API.

Coded to the documented API (custom code, `trust_remote_code=True`, class `MegrezO`):
`model.chat(input_msgs, sampling=..., max_new_tokens=..., temperature=..., streamer=...)`,
each message's `content` a dict with `text`, `image` (path) and `audio` (path) keys.
Card limits respected here: an image only in the first user round (later images are
replaced by their OCR text), OCR-like reading with `sampling=False`.

Streaming uses a fresh streamer per request: the upstream Gradio demo shares one streamer
across requests, which mixes concurrent users' tokens into each other's answers. `chat` has
to run in a worker thread, so the streamer wakes the caller every few tokens rather than at
every one, and ends the generation at its next token once the caller stops (worker_stream).
Omni weights cannot be downloaded here: tests/runtime/test_omni_backend.py runs this backend on
a stand-in with the same remote-code API (SmolLM2 as class `MegrezO`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.settings import RuntimeSettings

from . import megrez_format
from .base import ChatModel, Choice, Message, ModelLoadError, Sampling, Usage
from .text_stream import StopScanner
from .transformers_backend import pick_device
from .worker_stream import WorkerStream

log = logging.getLogger(__name__)


class OmniModel(ChatModel):
    dialect = "megrez"
    modalities = frozenset({"text", "image", "audio"})

    def __init__(self, folder: Path, settings: RuntimeSettings) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.folder = folder
        self.name = folder.name
        self.device = pick_device(settings.device)
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                folder, trust_remote_code=True, local_files_only=True
            )
            self.model = (
                AutoModelForCausalLM.from_pretrained(
                    folder, trust_remote_code=True, local_files_only=True, dtype=dtype
                )
                .eval()
                .to(self.device)
            )
        except (OSError, ValueError, ImportError) as exc:
            raise ModelLoadError(f"could not load Megrez-3B-Omni from {folder}: {exc}") from exc
        self._lock = threading.Lock()

    def _omni_messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        converted: list[dict[str, Any]] = []
        image_seen = False
        for message in messages:
            if message.role != "user":
                converted.append({"role": message.role, "content": message.content})
                continue
            content: dict[str, Any] = {"text": message.content}
            if message.image is not None and not image_seen:
                content["image"] = str(message.image)
                image_seen = True
            if message.audio is not None:
                content["audio"] = str(message.audio)
            converted.append({"role": "user", "content": content})
        return converted

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        kwargs: dict[str, Any] = {
            "input_msgs": self._omni_messages(messages),
            "sampling": sampling.temperature > 0,
            "max_new_tokens": sampling.max_tokens,
        }
        if sampling.temperature > 0:
            kwargs.update(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                repetition_penalty=sampling.repetition_penalty,
            )

        def chat(streamer: Any) -> object:
            # One generation at a time on the device; a cancelled one ends at its next token
            # (its streamer raises), so the next request waits one token, not a whole answer.
            with self._lock:
                return self.model.chat(**kwargs, streamer=streamer)

        scanner = StopScanner(stops=(*sampling.stop, *megrez_format.STOP))
        generation = WorkerStream(self.tokenizer, chat, scanner, "Megrez-3B-Omni failed")
        produced: list[str] = []
        try:
            for chunk in generation:
                produced.append(chunk)
                yield chunk
        finally:
            if usage is not None:
                prompt_text = "".join(m.content for m in messages)
                usage.add(
                    Usage(self.count_tokens(prompt_text), self.count_tokens("".join(produced)))
                )

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        """Omni exposes no scoring API: a short greedy answer picks the option it starts with."""
        text = self.complete(messages, Sampling(max_tokens=8), usage).strip().lower()
        for option in options:
            if option.strip() and text.startswith(option.strip().lower()):
                return Choice(option=option)
        return Choice(option=options[-1])

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
