"""The multimodal runtime the agent and the UI use: a chat model plus perception.

A backend that understands images/audio natively (Megrez-3B-Omni) gets them as they are.
For text-only backends the runtime turns a voice clip into its transcript (faster-whisper)
and an image into the text read from it (RapidOCR) plus basic facts, so the same call
accepts all three. `perceive` tells the caller which perception ran.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from core.settings import Settings

from .base import ChatModel, Choice, Message, Sampling, Usage
from .perception import ImageFacts, describe_image, read_image, transcribe
from .priority import ModelPriority

log = logging.getLogger(__name__)


#: How an attached image starts in the text a text-only model reads (see `as_text`).
IMAGE_NOTE = "[Attached image: "


@dataclass(frozen=True)
class Perception:
    """What perception made of one user message's attachments."""

    transcript: str | None = None
    image_text: str | None = None
    image_facts: ImageFacts | None = None

    @property
    def ran(self) -> bool:
        return self.transcript is not None or self.image_text is not None

    def as_text(self) -> str:
        """The attachments rendered as text a text-only model can read."""
        parts: list[str] = []
        if self.image_facts is not None:
            parts.append(f"{IMAGE_NOTE}{self.image_facts.summary()}]")
            if self.image_text:
                parts.append(f'[Text read from the image: "{self.image_text}"]')
            else:
                parts.append("[No text could be read from the image.]")
        return "\n".join(parts)


class Runtime:
    """One chat model plus the perception it lacks.

    Create it with `runtime.load_runtime`.
    """

    def __init__(self, model: ChatModel, settings: Settings) -> None:
        self.model = model
        self.settings = settings
        #: Turns run in the foreground; optional calls (follow-ups) give way to them.
        self.priority = ModelPriority()

    @property
    def dialect(self) -> str:
        return (
            self.settings.runtime.dialect
            if self.settings.runtime.dialect != "auto"
            else self.model.dialect
        )

    def perceive(self, message: Message) -> Perception:
        """Transcribe audio and read images of `message` with the local perception models.

        Raises `InputError` for unreadable or unsupported attachments.
        """
        transcript = transcribe(message.audio, self.settings) if message.audio else None
        image_text: str | None = None
        facts: ImageFacts | None = None
        if message.image:
            facts = describe_image(message.image)
            image_text = read_image(message.image)
        return Perception(transcript=transcript, image_text=image_text, image_facts=facts)

    def textualize(self, message: Message, perception: Perception) -> Message:
        """`message` as plain text for a text-only model: transcript and image text inlined."""
        content = message.content.strip()
        if perception.transcript is not None:
            content = f"{content}\n{perception.transcript}".strip()
        attachment_text = perception.as_text()
        if attachment_text:
            content = f"{attachment_text}\n{content}".strip()
        return replace(message, content=content, image=None, audio=None)

    def ingest(self, message: Message) -> tuple[Message, Perception]:
        """Perceive `message`'s attachments; inline as text those the model cannot take.

        Voice is always transcribed (the transcript is shown to the user and used to write
        search queries); a natively multimodal model still receives the original clip.
        """
        if message.image is None and message.audio is None:
            return message, Perception()
        perception = self.perceive(message)
        needs_text = (message.image is not None and "image" not in self.model.modalities) or (
            message.audio is not None and "audio" not in self.model.modalities
        )
        return (self.textualize(message, perception) if needs_text else message), perception

    def prepare(self, messages: Sequence[Message]) -> list[Message]:
        """Messages as the backend can take them: attachments it cannot see become text."""
        return [self.ingest(message)[0] for message in messages]

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        return self.model.stream(self.prepare(messages), sampling, usage)

    def complete(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> str:
        return self.model.complete(self.prepare(messages), sampling, usage)

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        return self.model.choose(self.prepare(messages), options, usage)

    def prefill(self, messages: Sequence[Message], until: str = "") -> None:
        self.model.prefill(self.prepare(messages), until)

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)
