"""Saved llama.cpp prompt states: the tiny GGUF model through llama.cpp, run for real.

The pattern they serve: decide (system S1), answer (system S2), then the next question's
decide (S1 again) must evaluate only what it does not share with the first decide.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Sequence

import pytest

from core.settings import Settings
from runtime import Message, Sampling, load_model
from runtime.llamacpp import LlamaCppModel
from runtime.llamacpp_states import SavedState, StateCache
from runtime.token_prefix import common_prefix

DECIDE = (
    "You decide whether a question needs a web search. Reply SEARCH when it asks about "
    "facts, versions, APIs or recent events, and ANSWER when it is chit-chat or arithmetic. "
) * 2
ANSWER = (
    "You answer questions using only the numbered sources below and cite them as [1], [2]. "
    "If the sources do not say, reply that you do not know. "
) * 2


def decide(question: str) -> list[Message]:
    return [Message("system", DECIDE), Message("user", question)]


def answer(question: str) -> list[Message]:
    sources = "[1] functools.lru_cache wraps a function with a memoizing callable."
    return [Message("system", ANSWER), Message("user", f"{sources}\n\nQuestion: {question}")]


def short(number: int) -> list[Message]:
    """Prompts of one length that share nothing past the chat template's opening (a system
    prompt of their own: without one, the template adds the same default to each)."""
    letter = "ABCDEFGHIJ"[number]
    return [Message("system", f"{letter}{letter}: rules"), Message("user", f"{letter}: question?")]


@pytest.fixture
def model() -> Iterator[LlamaCppModel]:
    loaded = load_model(Settings(model="embedded:tiny"))
    assert isinstance(loaded, LlamaCppModel)
    saved = loaded.states
    loaded.states = StateCache(max_entries=4, max_bytes=256 * 1024 * 1024)
    try:
        yield loaded
    finally:
        loaded.states = saved


def prompt_tokens(model: LlamaCppModel, messages: Sequence[Message]) -> list[int]:
    return model._tokenize_prompt(model.render(messages)[0])


def cold(model: LlamaCppModel) -> None:
    """Forget every saved state and the live context: the next call evaluates everything."""
    model.states.clear()
    model.llm.reset()


def evaluated_by(model: LlamaCppModel, call: object) -> int:
    before = model.prompt_tokens_evaluated
    assert callable(call)
    call()
    return model.prompt_tokens_evaluated - before


def test_next_decide_reuses_the_first_despite_the_answer_between(model: LlamaCppModel) -> None:
    first, second = decide("What does lru_cache do?"), decide("Who wrote Python?")
    greedy = Sampling(max_tokens=12)
    cold(model)
    model.complete(first, greedy)
    model.complete(answer("What does lru_cache do?"), greedy)

    warm_text: list[str] = []
    evaluated = evaluated_by(model, lambda: warm_text.append(model.complete(second, greedy)))

    a, b = prompt_tokens(model, first), prompt_tokens(model, second)
    assert common_prefix(a, b) > 40, "the system prompt is the shared part"
    assert evaluated == len(b) - common_prefix(a, b)
    cold(model)
    assert evaluated_by(model, lambda: warm_text.append(model.complete(second, greedy))) == len(b)
    assert warm_text[0] == warm_text[1], "a loaded state must decode like a cold prompt"


TRANSLATE = (
    "You translate the keywords of a question into English search words. Reply with the "
    "words only, on one line, and keep technical names exactly as they are written. "
) * 2


def translate(question: str) -> list[Message]:
    return [Message("system", TRANSLATE), Message("user", question)]


def test_each_kind_of_call_keeps_its_state_across_questions(model: LlamaCppModel) -> None:
    """decide, translate, answer per question: the next question's decide state replaces
    the last one's, so the translation's state is still there for its turn (it was pushed
    out, and 2 s of examples read again per Chinese question on the default model)."""
    model.states = StateCache(max_entries=3, max_bytes=256 * 1024 * 1024)
    greedy = Sampling(max_tokens=4)
    cold(model)
    for call in (decide, translate, answer):
        model.complete(call("What does lru_cache do?"), greedy)
    second = "Who wrote Python?"
    model.complete(decide(second), greedy)
    evaluated = evaluated_by(model, lambda: model.complete(translate(second), greedy))
    a = prompt_tokens(model, translate("What does lru_cache do?"))
    b = prompt_tokens(model, translate(second))
    assert common_prefix(a, b) > 40
    assert evaluated == len(b) - common_prefix(a, b)


def test_choose_then_grammar_after_a_loaded_state_match_a_cold_run(model: LlamaCppModel) -> None:
    grammar = 'root ::= "SEARCH" | "ANSWER"'
    constrained = Sampling(max_tokens=4, grammar=grammar)
    options = ["SEARCH", "ANSWER"]
    cold(model)
    model.choose(decide("What does lru_cache do?"), options)  # leaves option tokens behind
    model.complete(answer("What does lru_cache do?"), Sampling(max_tokens=8))

    second = decide("What is 2 + 2?")
    warm_choice = model.choose(second, options)
    model.complete(answer("What is 2 + 2?"), Sampling(max_tokens=8))
    warm_text = model.complete(second, constrained)
    cold(model)
    cold_choice = model.choose(second, options)
    cold(model)
    cold_text = model.complete(second, constrained)

    assert warm_choice.option == cold_choice.option
    assert warm_choice.scores == pytest.approx(cold_choice.scores, abs=1e-3)
    assert warm_text == cold_text and warm_text in options


def test_the_same_prompt_again_evaluates_only_its_last_token(model: LlamaCppModel) -> None:
    question = decide("What does lru_cache do?")
    cold(model)
    model.choose(question, ["SEARCH", "ANSWER"])
    model.complete(answer("What does lru_cache do?"), Sampling(max_tokens=4))
    assert evaluated_by(model, lambda: model.choose(question, ["SEARCH", "ANSWER"])) == 1


def test_saved_states_stay_within_the_entry_bound(model: LlamaCppModel) -> None:
    model.states = StateCache(max_entries=2, max_bytes=256 * 1024 * 1024)
    for number in range(4):
        model.complete(short(number), Sampling(max_tokens=1))
        assert len(model.states) <= 2
    assert len(model.states) == 2


def test_saved_states_stay_within_the_byte_bound(model: LlamaCppModel) -> None:
    model.complete(short(9), Sampling(max_tokens=1))
    one_state = model.states.nbytes
    assert one_state > 0
    model.states = StateCache(max_entries=8, max_bytes=one_state * 3 // 2)
    for number in range(3):
        model.complete(short(number), Sampling(max_tokens=1))
        assert 0 < model.states.nbytes <= one_state * 3 // 2
    assert len(model.states) == 1


def test_disabled_cache_saves_nothing_and_still_answers(model: LlamaCppModel) -> None:
    model.states = StateCache(max_entries=0, max_bytes=0)
    assert model.complete(short(1), Sampling(max_tokens=4)).strip()
    assert len(model.states) == 0


# --- the store itself ------------------------------------------------------------------------


def state(tokens: Sequence[int], size: int) -> SavedState:
    return SavedState(tuple(tokens), (ctypes.c_uint8 * size)())


def test_longest_prefix_wins_and_is_kept_longest() -> None:
    cache = StateCache(max_entries=2, max_bytes=1000)
    first, second = [1, 2, *[3] * 100], [1, 2, *[9] * 100]  # share 2 tokens: both kept
    cache.put(state(first, 10))
    cache.put(state(second, 10))
    best, shared = cache.longest([1, 2, 9, 5])
    assert best is not None and best.tokens == tuple(second) and shared == 3
    cache.put(state([4], 10))  # evicts the least recently used: `first`
    assert cache.longest(first)[1] == 2
    assert {s.tokens for s in cache._entries.values()} == {tuple(second), (4,)}


def test_a_sibling_replaces_its_elder_but_not_a_history_of_its_own() -> None:
    system = list(range(100, 160))
    cache = StateCache(max_entries=8, max_bytes=1000)
    cache.put(state([*system, 1, 2, 3], 10))
    cache.put(state([*system, 4, 5, 6, 7], 10))  # the same system prompt, the next question
    assert [len(k) for k in cache._entries] == [64]
    history = [*system, *range(500, 700)]  # a conversation: its own 200 tokens
    cache.put(state(history, 10))
    cache.put(state([*system, 8, 9], 10))
    assert tuple(history) in cache._entries and len(cache) == 2
    # A short prompt shares little with anything; sharing its first tokens replaces nothing.
    cache.put(state([0, *[5] * 20], 10))
    cache.put(state([0, *[6] * 20], 10))
    assert len(cache) == 4


def test_an_extended_prefix_replaces_its_entry_and_oversized_states_are_refused() -> None:
    cache = StateCache(max_entries=4, max_bytes=100)
    cache.put(state([1, 2], 10))
    cache.put(state([1, 2, 3], 10))
    assert len(cache) == 1 and cache.nbytes == 10
    assert not cache.put(state([7], 101))
    # What a stored entry starts with, it serves already; something new is worth saving.
    assert not cache.wants([1, 2, 3]) and not cache.wants([1, 2]) and cache.wants([1, 5])


# --- reading a prompt ahead (`prefill`) ---------------------------------------------------

MARK = "<<passages>>"


def conversation(sources: str) -> list[Message]:
    """An answer prompt after one earlier exchange; the passages come in the last turn."""
    return [
        Message("system", ANSWER),
        Message("user", "What does functools.lru_cache do?"),
        Message("assistant", "It caches the results of a function by its arguments."),
        Message("user", f"Sources:\n\n{sources}\n\nQuestion: What is its default maxsize?"),
    ]


SOURCES = "[1] functools\nlru_cache(maxsize=128) wraps a function with a memoizing callable."


def test_a_prompt_read_ahead_leaves_only_the_passages_to_read(model: LlamaCppModel) -> None:
    greedy = Sampling(max_tokens=16)
    full = prompt_tokens(model, conversation(SOURCES))
    cold(model)
    model.prefill(conversation(f"[1] {MARK}\n{MARK}"), MARK)
    read = model.llm._input_ids.tolist()
    shared = common_prefix(read, full)
    # Everything up to the passages' line was read, the earlier exchange included.
    assert shared >= len(read) - 1
    assert "caches the results" in model.llm.detokenize(read).decode()
    assert MARK not in model.llm.detokenize(read).decode()

    texts: list[str] = []
    evaluated = evaluated_by(
        model, lambda: texts.append(model.complete(conversation(SOURCES), greedy))
    )
    assert evaluated == len(full) - shared
    cold(model)
    assert evaluated_by(
        model, lambda: texts.append(model.complete(conversation(SOURCES), greedy))
    ) == len(full)
    assert texts[0] == texts[1], "the answer must not change because its start was read ahead"


def test_nothing_is_read_ahead_without_the_marker(model: LlamaCppModel) -> None:
    cold(model)
    assert evaluated_by(model, lambda: model.prefill(conversation(SOURCES), MARK)) == 0
