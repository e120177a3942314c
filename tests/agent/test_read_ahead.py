"""The answer prompt's part before the passages is read while the search runs: the answer
then evaluates only the passages and what follows them, from the same state as a prompt read
whole. The real embedded model (SmolLM2-135M on llama.cpp), the docs index.

"The same state" is the next-token logits after the prompt, read from an empty context with
and without the reading ahead (bit-identical when measured, however the prompt was cut into
batches), not the answer's text: a greedy answer also depends on what the context held
before, so the first answer in a process parted from the next one on the same prompt after
~20 tokens, with or without the reading ahead (seen on CI, measured here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime

import numpy as np
import pytest

from agent.api import AskRequest
from agent.generation import BACKGROUND_PIECE_TOKENS, generate
from agent.read_ahead import MARKER, ReadAheads
from core.settings import Settings
from runtime import Choice, Message, Runtime, Sampling, Usage, load_model
from runtime.base import ChatModel
from runtime.llamacpp import PREFILL_REPORT_TOKENS, LlamaCppModel
from runtime.token_prefix import common_prefix
from wiring import search_agent

pytestmark = pytest.mark.slow

HISTORY = [
    Message("user", "What is the functools module for?"),
    Message("assistant", "It holds higher-order functions that act on other functions."),
]
QUESTION = "What is the default maxsize of functools.lru_cache?"


class Counting(ChatModel):
    """The real llama.cpp model, recording for each call the prompt tokens it evaluated."""

    def __init__(self, model: LlamaCppModel) -> None:
        self.model, self.name, self.dialect = model, model.name, model.dialect
        self.modalities = model.modalities
        self.read_ahead: list[list[int]] = []  # the context each prefill left
        self.prefilled: list[Sequence[Message]] = []  # the messages each prefill read
        self.asked: list[Sequence[Message]] = []  # the messages of each stream
        self.streams: list[tuple[list[int], int]] = []  # (prompt tokens, evaluated)

    def prefill(self, messages: Sequence[Message], until: str = "") -> None:
        self.model.prefill(messages, until)
        self.prefilled.append(list(messages))
        self.read_ahead.append(self.model.llm._input_ids.tolist())

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        tokens = self.model._tokenize_prompt(self.model.render(messages)[0])
        self.asked.append(list(messages))
        before = self.model.prompt_tokens_evaluated
        yield from self.model.stream(messages, sampling, usage)
        self.streams.append((tokens, self.model.prompt_tokens_evaluated - before))

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        return self.model.choose(messages, options, usage)

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)


def answer_with(settings: Settings, counting: bool) -> tuple[str, Counting | None]:
    with search_agent(settings) as agent:
        model = agent.runtime.model
        assert isinstance(model, LlamaCppModel)
        spy = Counting(model) if counting else None
        agent.runtime.model = spy or model
        try:
            result = agent.invoke(AskRequest(QUESTION, history=HISTORY))
        finally:
            agent.runtime.model = model
    assert result.ok and result.searched, result
    return result.answer, spy


def next_token_logits(
    model: LlamaCppModel, answer: Sequence[Message], read_ahead: Sequence[Message] = ()
) -> np.ndarray:
    """The logits after `answer`'s prompt, from an empty context, its part before the
    passages read first when `read_ahead` (the messages the read-ahead saw) is given."""
    with model._lock:
        model.llm.reset()
        model.states.clear()
        if read_ahead:
            model.prefill(read_ahead, MARKER)
        model._evaluate_prompt(model._tokenize_prompt(model.render(answer)[0]), save=False)
        return model._last_logits().copy()


def test_the_answer_reads_only_the_passages_from_the_state_of_the_whole_prompt(docs_settings):
    answer, spy = answer_with(docs_settings, counting=True)
    assert answer
    assert spy is not None and len(spy.read_ahead) == 1
    read = spy.read_ahead[0]
    text = spy.model.llm.detokenize(read).decode()
    assert "higher-order functions" in text and MARKER not in text  # the conversation, no passages
    prompt, evaluated = spy.streams[-1]  # the answer
    shared = common_prefix(read, prompt)
    assert shared >= len(read) - 1
    assert evaluated == len(prompt) - shared

    ahead = next_token_logits(spy.model, spy.asked[-1], spy.prefilled[0])
    whole = next_token_logits(spy.model, spy.asked[-1])
    assert ahead.argmax() == whole.argmax()
    assert np.abs(ahead - whole).max() < 0.05 * whole.std()


def test_a_stopped_turn_ends_its_reading_ahead_at_the_next_piece():
    model = load_model(Settings(model="embedded:tiny"))
    assert isinstance(model, LlamaCppModel)
    messages = [
        Message("system", "You answer from the numbered sources."),
        Message("user", "Tell me about caches. " * 60),
        Message("assistant", "Sure."),
        Message("user", f"Sources:\n\n[1] {MARKER}\n{MARKER}"),
    ]
    assert len(model._tokenize_prompt(model.render(messages)[0])) > 2 * PREFILL_REPORT_TOKENS
    model.llm.reset()
    model.states.clear()
    stopped = threading.Event()
    stopped.set()
    readings = ReadAheads()
    readings.start("run", Runtime(model, Settings()), datetime.now(), lambda now: messages, stopped)
    assert readings.finish("run", timeout_s=600) is not None
    # One piece was read, then the stop was seen: not the whole prefix.
    assert model.llm.n_tokens == PREFILL_REPORT_TOKENS


def test_a_background_call_gives_way_after_one_small_piece_of_its_prompt():
    """Follow-ups read their prompt in small pieces: a question that comes in while one is
    read waits for that piece only, not for a turn's 128-token piece."""
    model = load_model(Settings(model="embedded:tiny"))
    assert isinstance(model, LlamaCppModel)
    runtime = Runtime(model, Settings())
    messages = [
        Message("system", "You suggest follow-up questions."),
        Message("user", "Tell me about caches. " * 60),
    ]
    assert len(model._tokenize_prompt(model.render(messages)[0])) > 2 * PREFILL_REPORT_TOKENS
    model.llm.reset()
    model.states.clear()
    pieces: list[int] = []
    read = model.llm.eval
    with ExitStack() as question:

        def question_comes_in(tokens: list[int]) -> None:
            read(tokens)
            pieces.append(len(tokens))
            if len(pieces) == 1:  # while the first piece is read, a turn starts
                question.enter_context(runtime.priority.foreground())

        model.llm.eval = question_comes_in
        try:
            text = "".join(
                generate(
                    runtime,
                    messages,
                    Sampling(max_tokens=8),
                    Usage(),
                    stall_timeout_s=600,
                    background=True,
                )
            )
        finally:
            model.llm.eval = read
    assert text == ""
    assert pieces == [BACKGROUND_PIECE_TOKENS]  # one piece, then it gave way
    assert model.llm.n_tokens == BACKGROUND_PIECE_TOKENS
