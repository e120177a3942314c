"""A scripted model that answers every call from what it was asked, for UI flows of many
turns: answers cite source 1 (and 2) of the prompt, follow-up prompts get three questions
built from the last question and the first source title, and a question containing
`HOLD` streams a few words and then waits until `release` is set (to test Stop), one
containing `WAIT` writes its sourced answer only once `release` is set (a model still
reading its sources). With
`answer`, every sourced answer is that text (e.g. what a hostile page told the model)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence

from runtime import Message, Sampling, Usage
from tests.support.scripted import ScriptedModel, Stall, Wait

_SOURCES_LINE = re.compile(r"^Sources: (.+)$", re.MULTILINE)


class ResponderModel(ScriptedModel):
    def __init__(self, label: str = "Answer", answer: str | None = None) -> None:
        super().__init__(dialect="generic")
        self.label = label
        self.answer = answer
        self.release = threading.Event()
        self.answers = 0

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        if not self.outputs:
            self.outputs.append(self.reply(list(messages)))
        return super().stream(messages, sampling, usage)

    def reply(self, messages: list[Message]) -> str | Stall | Wait:
        system = messages[0].content if messages else ""
        text = "\n".join(m.content for m in messages)
        if "follow-up questions" in system:
            found = _SOURCES_LINE.search(text)
            title = found.group(1).split(";")[0].strip() if found else "this"
            return (
                f"How is {title} used in practice?\n"
                "1. What are the common pitfalls?\n"
                "Is there an alternative?"
            )
        question = messages[-1].content
        self.answers += 1
        if "HOLD" in question:
            return Stall("Let me think about this carefully and", self.release)
        if "numbered sources" in system and self.answer is not None:
            return Wait(self.answer, self.release) if "WAIT" in question else self.answer
        if "numbered sources" in system:
            cites = "[1][2]" if "[2]" in text else "[1]"
            return f"{self.label} {self.answers}. The lru_cache maxsize default is 128 {cites}."
        return f"{self.label} {self.answers}. A reply without sources."
