"""The one interface every model backend implements, and the types it speaks.

Streaming is the primary shape: `ChatModel.stream` yields text chunks and fills a `Usage`;
`complete` is built on it. `choose` scores a fixed set of options on the model's own
likelihoods, so even a 135M model can make a constrained decision reliably.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.errors import MegrezSearchError

Role = Literal["system", "user", "assistant", "observation"]
#: The chat template and tool protocol a model was trained with (see agent/dialect.py).
ChatFormat = Literal["megrez", "generic"]
Modality = Literal["text", "image", "audio"]


class ModelRuntimeError(MegrezSearchError):
    """Base of runtime errors: the message is meant for the user."""


class ModelLoadError(ModelRuntimeError):
    """The model spec points at nothing loadable (missing file, bad folder, bad spec)."""


class ModelCallError(ModelRuntimeError):
    """A model call failed (backend raised, server unreachable, timeout)."""


class InputError(ModelRuntimeError):
    """The user's input cannot be used (unreadable audio/image, unsupported format, empty)."""


@dataclass(frozen=True)
class Message:
    """One chat message. User messages may carry an image and/or an audio clip."""

    role: Role
    content: str = ""
    image: Path | None = None
    audio: Path | None = None

    def to_dict(self) -> dict[str, str]:
        data = {"role": self.role, "content": self.content}
        if self.image:
            data["image"] = str(self.image)
        if self.audio:
            data["audio"] = str(self.audio)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Message:
        return cls(
            role=data["role"],  # type: ignore[arg-type]
            content=data.get("content", ""),
            image=Path(data["image"]) if data.get("image") else None,
            audio=Path(data["audio"]) if data.get("audio") else None,
        )


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters of one call. `grammar` (GBNF) is honoured by llama.cpp backends."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = 0
    grammar: str | None = None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


@dataclass(frozen=True)
class Choice:
    """Result of `ChatModel.choose`: the winning option and every option's log-likelihood."""

    option: str
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def margin(self) -> float:
        ranked = sorted(self.scores.values(), reverse=True)
        return ranked[0] - ranked[1] if len(ranked) > 1 else math.inf


class ChatModel(ABC):
    """A chat model backend. Heavy weights load lazily, once per process (see registry)."""

    name: str = "model"
    dialect: ChatFormat = "generic"
    #: What the backend understands natively; the Runtime perceives the rest into text.
    modalities: frozenset[Modality] = frozenset({"text"})

    @abstractmethod
    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        """Yield the answer's text chunks; fill `usage` (when given) by the end."""

    def complete(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> str:
        return "".join(self.stream(messages, sampling, usage))

    @abstractmethod
    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        """Pick the option the model finds most likely as the start of its reply."""

    def prefill(self, messages: Sequence[Message], until: str = "") -> None:
        """Read the prompt of `messages` up to the line holding `until` (all of it when
        `until` is ""), so a later call whose prompt starts the same way reads only the rest.

        For a backend that keeps its last prompt (llama.cpp); the others read nothing here.
        Reports its pieces through `prefill_progress` like a call's own prompt evaluation.
        """

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in this model's tokenizer (an estimate where none is at hand)."""

    def close(self) -> None:
        """Release resources (servers, threads)."""
