"""A stand-in chat model that replays scripted outputs: for what cannot run here.

Megrez weights are not on this machine, so the Megrez dialect is tested end to end with a
backend that speaks Megrez's wire format: scripted outputs such as
`<|function_start|>{"name": "googleWebSearch", ...}<|function_end|>` go through the same
parser as a real model's, and every call's messages are recorded so tests can assert the
rendered prompt token-exact against `megrez_format.render_prompt`. It can also fail: raise
part-way through a stream, or stall until released (a timeout).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from runtime import ChatModel, Choice, Message, ModelCallError, Sampling, Usage
from runtime.megrez_format import STOP

# Token-ish pieces: special tokens whole, words with their leading space, punctuation alone.
_PIECES = re.compile(r"<\|[a-z_]+\|>|\s*[A-Za-z0-9_]+|\s*[^\sA-Za-z0-9_]")


@dataclass
class Fail:
    """Yield `text`, then raise `error` (a backend dying mid-stream)."""

    text: str
    error: Exception = field(default_factory=lambda: RuntimeError("CUDA error: device lost"))


@dataclass
class Stall:
    """Yield `text`, then block until `release` is set (a backend that stops responding)."""

    text: str
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Wait:
    """Block until `release` is set, then yield `text`: a model still reading its prompt."""

    text: str
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Busy:
    """Yield `text`, wait until another call comes in, then yield `more` up to `limit` times:
    a long generation that a second caller finds in progress. `yielded` counts the pieces."""

    text: str
    more: str = "\nWhat else?"
    limit: int = 200
    started: threading.Event = field(default_factory=threading.Event)
    yielded: int = 0


#: A script is text, a failure, a stall, a busy generation, or a function of the messages the
#: model got (e.g. to cite the number a given page received in the observation turn).
Script = str | Fail | Stall | Wait | Busy | Callable[[list[Message]], str]


@dataclass
class Call:
    messages: list[Message]
    sampling: Sampling | None = None
    options: list[str] | None = None


class ScriptedModel(ChatModel):
    """Replays `outputs` in order, one per `stream` call; `choices` answer `choose` calls."""

    modalities = frozenset({"text"})

    def __init__(
        self,
        outputs: Sequence[Script] = (),
        *,
        dialect: str = "megrez",
        choices: Sequence[str] = (),
    ) -> None:
        self.name = f"scripted-{dialect}"
        self.dialect = dialect  # type: ignore[assignment]
        self.outputs = list(outputs)
        self.choices = list(choices)
        self.calls: list[Call] = []
        #: Serve one call at a time, as llama.cpp does (a call waits for the one in progress).
        self.serial = False
        self._serving = threading.Lock()
        self._called = threading.Condition()

    def _record(self, call: Call) -> None:
        with self._called:
            self.calls.append(call)
            self._called.notify_all()

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        self._record(Call(list(messages), sampling))
        if not self.serial:
            yield from self._stream(messages, sampling, usage)
            return
        with self._serving:
            yield from self._stream(messages, sampling, usage)

    def _stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None
    ) -> Iterator[str]:
        if not self.outputs:
            raise ModelCallError("scripted model: no output left for this call")
        script = self.outputs.pop(0)
        if isinstance(script, Busy):
            yield from self._busy(script)
            return
        if callable(script) and not isinstance(script, (Fail, Stall, Wait)):
            script = script(list(messages))
        if isinstance(script, Wait):
            script.release.wait()
        text = script if isinstance(script, str) else script.text
        stops = [*sampling.stop, *(STOP if self.dialect == "megrez" else ())]
        cut = min((text.find(s) for s in stops if s and s in text), default=-1)
        if cut >= 0:  # honour stop strings like a real backend: the stop is not returned
            text = text[:cut]
        pieces = _PIECES.findall(text)
        if usage is not None:
            usage.add(Usage(sum(len(m.content.split()) for m in messages), len(pieces)))
        yield from pieces
        if isinstance(script, Fail):
            raise script.error
        if isinstance(script, Stall):
            script.release.wait()

    def _busy(self, script: Busy) -> Iterator[str]:
        calls = len(self.calls)
        yield script.text
        script.started.set()
        with self._called:
            self._called.wait_for(lambda: len(self.calls) > calls)
        while script.yielded < script.limit:
            script.yielded += 1
            yield script.more

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        self._record(Call(list(messages), options=list(options)))
        pick = self.choices.pop(0) if self.choices else options[0]
        return Choice(pick, {o: (0.0 if o == pick else -5.0) for o in options})

    def count_tokens(self, text: str) -> int:
        return max(1, len(_PIECES.findall(text)))


#: The question and the Megrez search call several tests script (the dialect's exact text).
QUESTION = "What is the default maxsize of functools.lru_cache?"
QUERY = "functools lru_cache default maxsize"
CALL = (
    '<|function_start|>{"name": "googleWebSearch", "arguments": {"query": "'
    + QUERY
    + '"}}<|function_end|>'
)
