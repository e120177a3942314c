"""The embedded default (SmolLM2-135M-Instruct GGUF through llama.cpp), run for real."""

from __future__ import annotations

import threading

import pytest

from core.settings import Settings
from runtime import ChatModel, Message, ModelLoadError, Sampling, Usage, load_model
from runtime.registry import parse_model_spec

# "Answer in one word": asked only "What is the capital of France?", the 135M model wrote
# "Paris" with llama.cpp's AVX-512 kernels and French nonsense with its AVX2 ones.
CAPITAL = [
    Message("system", "You are a helpful assistant."),
    Message("user", "What is the capital of France? Answer in one word."),
]


@pytest.fixture(scope="module")
def model() -> ChatModel:
    return load_model(Settings(model="embedded:tiny"))


def test_loaded_once_per_process(model: ChatModel) -> None:
    assert load_model(Settings(model="embedded:tiny")) is model
    assert model.dialect == "generic"


def test_streams_an_answer_with_token_counts(model: ChatModel) -> None:
    usage = Usage()
    chunks = list(model.stream(CAPITAL, Sampling(max_tokens=40), usage))
    assert len(chunks) > 1, "the answer should arrive in several chunks"
    assert "Paris" in "".join(chunks)
    assert usage.prompt_tokens > 10
    assert 0 < usage.completion_tokens <= 40


def test_stop_sequences_and_max_tokens(model: ChatModel) -> None:
    text = model.complete(CAPITAL, Sampling(max_tokens=40, stop=("Paris",)))
    assert "Paris" not in text and text.strip()
    usage = Usage()
    model.complete(CAPITAL, Sampling(max_tokens=3), usage)
    assert usage.completion_tokens == 3


def test_grammar_forces_one_of_fixed_choices(model: ChatModel) -> None:
    grammar = 'root ::= "alpha" | "beta" | "gamma"'
    question = [Message("user", "Write a long poem about the sea.")]
    assert model.complete(question, Sampling(max_tokens=10, grammar=grammar)) in {
        "alpha",
        "beta",
        "gamma",
    }


def test_grammar_forces_valid_json(model: ChatModel) -> None:
    import json

    grammar = r'''root ::= "{\"query\": \"" [a-z ]{1,30} "\"}"'''
    text = model.complete(
        [Message("user", "Give a search query about Python caching as JSON.")],
        Sampling(max_tokens=40, grammar=grammar),
    )
    assert set(json.loads(text)) == {"query"}


def test_greedy_under_a_grammar_picks_what_the_full_sampler_chain_picks(
    model: ChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grammar is checked on the likeliest token alone, and on the whole vocabulary only
    when it refuses that one: the same tokens as llama-cpp-python's chain, which filters
    the whole vocabulary every time."""
    from runtime.llamacpp import LlamaCppModel
    from runtime.llamacpp_grammar import GreedyGrammar

    assert isinstance(model, LlamaCppModel)
    grammar = r'''root ::= "{\"query\": \"" [a-z ]{1,30} "\"}"'''
    messages = [Message("user", "Give a search query about Python caching as JSON.")]
    checked: list[int] = []
    allowed = GreedyGrammar._allowed

    def counted(self: GreedyGrammar, candidates: object) -> object:
        checked.append(len(candidates))  # type: ignore[arg-type]
        return allowed(self, candidates)  # type: ignore[arg-type]

    monkeypatch.setattr(GreedyGrammar, "_allowed", counted)
    text = model.complete(messages, Sampling(max_tokens=40, grammar=grammar))
    assert 1 in checked and model.llm.n_vocab() in checked  # both ways were taken
    assert checked.count(1) > checked.count(model.llm.n_vocab())

    prompt = model._tokenize_prompt(model.render(messages)[0])
    model.llm.reset()
    reference: list[int] = []
    for token in model.llm.generate(
        prompt, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, grammar=model._grammar(grammar)
    ):
        if model._llama_cpp.llama_vocab_is_eog(model._vocab, token) or len(reference) == 40:
            break
        reference.append(token)
    model.llm.reset()
    assert text == model.llm.detokenize(reference).decode("utf-8")


def test_choose_scores_every_option_on_likelihood(model: ChatModel) -> None:
    messages = [Message("user", "Is the sky blue on a clear day? Answer Yes or No.")]
    first = model.choose(messages, ["Yes", "No"])
    assert set(first.scores) == {"Yes", "No"}
    assert all(score < 0 for score in first.scores.values())
    assert first.option == max(first.scores, key=first.scores.__getitem__)
    # Multi-token options score as the sum over their tokens, and scoring is repeatable.
    again = model.choose(messages, ["Yes", "No"])
    assert again.scores == pytest.approx(first.scores, abs=1e-3)


def test_multi_token_options_score_in_one_batch_as_one_token_at_a_time(model: ChatModel) -> None:
    """The options' tokens are read in one batch; each score is still the sum of its
    tokens' log-probs, as reading them one by one gives."""
    import numpy as np

    from runtime.llamacpp import LlamaCppModel, _log_softmax

    assert isinstance(model, LlamaCppModel)
    messages = [Message("user", "Should I look this up on the web: what is 2 + 2?")]
    options = ["Let me search the web for that.", "Sure! Here you go:"]
    batched = model.choose(messages, options)
    prompt = model._tokenize_prompt(model.render(messages)[0])
    one_by_one = {}
    for option in options:
        tokens = model.llm.tokenize(option.encode("utf-8"), add_bos=False, special=True)
        assert len(tokens) > 3
        model.llm.reset()
        model.llm.eval(prompt)
        total = 0.0
        for index, token in enumerate(tokens):
            logits = np.array(model._last_logits())
            total += float(_log_softmax(logits)[token])
            if index + 1 < len(tokens):
                model.llm.eval([token])
        one_by_one[option] = total
    model.llm.reset()
    # A batch takes llama.cpp's matrix kernels rather than its vector ones: the same sums to
    # within rounding (seen: 0.6% on an 8-token option), far from one token's log-prob.
    assert batched.scores == pytest.approx(one_by_one, rel=0.02)
    assert batched.option == max(one_by_one, key=one_by_one.__getitem__)


def test_two_options_are_read_in_the_questions_own_batch(model: ChatModel) -> None:
    """Both options ride the question's batch, each on its own sequence: one pass over the
    weights for the whole choice, and nothing of the options is left in the context."""
    import llama_cpp

    from runtime.llamacpp import LlamaCppModel

    assert isinstance(model, LlamaCppModel)
    assert llama_cpp.llama_n_seq_max(model.llm.ctx) == 2
    messages = [Message("user", "Is a tomato a fruit or a vegetable? (asked for a batch test)")]
    options = ["Let me search the web for that.", "Sure! Here you go:"]
    context = model.llm._ctx
    decode = context.decode
    passes: list[int] = []

    def counted(batch: object) -> None:
        passes.append(1)
        decode(batch)

    context.decode = counted
    try:
        together = model.choose(messages, options)
    finally:
        del context.decode
    assert len(passes) == 1
    memory = llama_cpp.llama_get_memory(model.llm.ctx)
    prompt = model._tokenize_prompt(model.render(messages)[0])
    assert llama_cpp.llama_memory_seq_pos_max(memory, 1) == -1  # the second sequence is empty
    assert llama_cpp.llama_memory_seq_pos_max(memory, 0) == len(prompt) - 1
    assert together.option in options
    # An option never reads the other's tokens: the second one scores the same whatever the
    # first one says, given as many tokens (their places in the batch fix the rounding).
    second = options[0]
    firsts = ["Well, it depends.", "No idea, sorry!!"]
    lengths = {len(model.llm.tokenize(f.encode(), add_bos=False, special=True)) for f in firsts}
    assert len(lengths) == 1
    scores = [model.choose(messages, [first, second]).scores[second] for first in firsts]
    assert scores[0] == scores[1]


def test_a_context_of_two_sequences_that_cannot_be_made_leaves_the_model_as_it_was(
    model: ChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp
    from llama_cpp import _internals

    from runtime.llamacpp import LlamaCppModel
    from runtime.llamacpp_branches import allow_branches

    assert isinstance(model, LlamaCppModel)

    def refused(**_: object) -> None:
        raise ValueError("Failed to create llama_context")

    context = model.llm._ctx
    params = model.llm.context_params
    built_with = (params.n_seq_max, params.kv_unified)
    monkeypatch.setattr(_internals, "LlamaContext", refused)
    assert allow_branches(model.llm, llama_cpp, sequences=4) == 1
    assert model.llm._ctx is context
    assert (params.n_seq_max, params.kv_unified) == built_with
    assert "Paris" in model.complete(CAPITAL, Sampling(max_tokens=12))


def test_options_beyond_the_contexts_sequences_are_read_after_the_question(
    model: ChatModel,
) -> None:
    """Two options share the question's batch; a third is read after it, and scores as it
    does alone (to within a batch's rounding)."""
    messages = [Message("user", "Which colour is the sky on a clear day?")]
    options = ["It is blue.", "It is green.", "The sky is blue on a clear day."]
    three = model.choose(messages, options)
    alone = model.choose(messages, options[2:]).scores[options[2]]
    assert three.scores[options[2]] == pytest.approx(alone, rel=0.02)
    assert three.option == max(three.scores, key=three.scores.__getitem__)


def test_a_long_prompt_reports_its_reading_and_answers_the_same(model: ChatModel) -> None:
    from runtime.prefill_progress import reporting_prefill

    long_prompt = [
        Message("system", "You are a helpful assistant who reads a lot. " * 40),
        Message("user", "What is the capital of France?"),
    ]
    reports: list[tuple[int, int]] = []
    with reporting_prefill(lambda done, total: reports.append((done, total))):
        reported = model.complete(long_prompt, Sampling(max_tokens=12))  # a prompt never seen
    quiet = model.complete(long_prompt, Sampling(max_tokens=12))
    assert reported == quiet
    assert len(reports) > 2
    totals = {total for _, total in reports}
    assert len(totals) == 1 and totals.pop() > 300
    done = [d for d, _ in reports]
    assert done == sorted(done) and done[-1] == reports[-1][1]
    # Outside the block nothing is reported, and a short prompt is read in one go.
    model.complete(long_prompt[1:], Sampling(max_tokens=1))
    assert len(reports) == len(done)


def test_prompt_prefix_is_reused_between_steps(model: ChatModel) -> None:
    history = [
        Message("system", "You are a helpful assistant. " * 20),
        Message("user", "Tell me about Python's functools module."),
    ]
    before = model.prompt_tokens_evaluated  # type: ignore[attr-defined]
    model.complete(history, Sampling(max_tokens=1))
    cold = model.prompt_tokens_evaluated - before  # type: ignore[attr-defined]
    model.choose(history, ["Yes", "No"])
    warm = model.prompt_tokens_evaluated - before - cold  # type: ignore[attr-defined]
    assert cold > 100
    assert warm < 5, f"the shared prefix should not be evaluated again ({warm} of {cold})"


def test_concurrent_calls_take_turns(model: ChatModel) -> None:
    results: list[str] = []

    def ask() -> None:
        results.append(model.complete(CAPITAL, Sampling(max_tokens=12)))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len(set(results)) == 1


def test_missing_gguf_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelLoadError, match="not found"):
        parse_model_spec(str(tmp_path / "missing.gguf"))


def test_corrupt_gguf_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all" * 100)
    with pytest.raises(ModelLoadError, match="could not load"):
        load_model(Settings(model=str(bad)))
