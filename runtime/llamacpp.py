"""GGUF models through llama.cpp (`llama-cpp-python`): the embedded default and Megrez on CPU.

Every prompt is evaluated by `_evaluate_prompt`, which reuses the longest prefix it shares
with the live context or with a recently saved state (`llamacpp_states`): the decide step of
the next question finds its system prompt saved even though the answer step ran in between,
and an answer finds the part of its prompt before the passages already read (`prefill`,
called while the search runs).
`Llama.generate` then samples straight from the evaluated prompt. We detokenize ourselves
with special tokens kept, because Megrez's `<|function_start|>` must survive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from core.settings import RuntimeSettings

from . import llamacpp_branches, llamacpp_states, megrez_format
from .base import ChatModel, Choice, Message, ModelCallError, ModelLoadError, Sampling, Usage
from .llamacpp_grammar import GreedyGrammar
from .prefill_progress import (
    ReadingStopped,
    prefill_piece_tokens,
    prefill_wanted,
    report_prefill,
)
from .text_stream import StopScanner, Utf8Assembler
from .token_prefix import common_prefix

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_types import ChatCompletionRequestMessage

log = logging.getLogger(__name__)

#: Tokens kept free at the end of the context so an answer always has room to start.
MIN_ANSWER_ROOM = 16
#: Prompt evaluation is reported (`prefill_progress`) after each piece of this many tokens.
PREFILL_REPORT_TOKENS = 128


class LlamaCppModel(ChatModel):
    modalities = frozenset({"text"})

    def __init__(self, path: Path, settings: RuntimeSettings) -> None:
        import llama_cpp

        self._llama_cpp = llama_cpp
        self.path = path
        self.name = path.stem
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=settings.n_ctx,
                n_threads=settings.n_threads or os.cpu_count() or 1,
                n_batch=512,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"could not load GGUF model {path}: {exc}") from exc
        # One context: calls from several threads take turns. Its second sequence serves
        # only `choose`, to read two options in one batch (`llamacpp_branches`).
        self._sequences = llamacpp_branches.allow_branches(self.llm, llama_cpp)
        self._lock = threading.RLock()
        self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._grammars: dict[str, LlamaGrammar] = {}
        self.states = llamacpp_states.StateCache(
            max_entries=settings.llamacpp_state_cache_entries,
            max_bytes=settings.llamacpp_state_cache_mib * 1024 * 1024,
        )
        #: Prompt tokens actually run through the model (the rest came from a cache).
        self.prompt_tokens_evaluated = 0
        template = self.llm.metadata.get("tokenizer.chat_template", "")
        self.dialect = "megrez" if megrez_format.ROLE_START in template else "generic"
        self._formatter = None
        if self.dialect == "generic":
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            eos = self._piece(self.llm.token_eos())
            bos = self._piece(self.llm.token_bos()) if self.llm.token_bos() >= 0 else ""
            self._formatter = Jinja2ChatFormatter(
                template=template or _CHATML_TEMPLATE, eos_token=eos, bos_token=bos
            )
        log.info(
            "loaded %s (llama.cpp, %s dialect, n_ctx=%d)",
            path,
            self.dialect,
            settings.n_ctx,
        )

    # --- prompt -----------------------------------------------------------------------

    def render(self, messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
        """The prompt text for `messages` and the stop strings its chat format implies."""
        if self.dialect == "megrez":
            return megrez_format.render_prompt(messages), megrez_format.STOP
        assert self._formatter is not None
        # Generic chat templates know system/user/assistant only: search results go as user.
        plain = [
            {"role": "user" if m.role == "observation" else m.role, "content": m.content}
            for m in messages
        ]
        response = self._formatter(messages=cast("list[ChatCompletionRequestMessage]", plain))
        stops = response.stop if isinstance(response.stop, list) else [response.stop or ""]
        return response.prompt, tuple(s for s in stops if s)

    def _tokenize_prompt(self, prompt: str) -> list[int]:
        # `special=True` so role/turn markers become their single special tokens; BOS is
        # added only when the model's metadata asks for it (Megrez: never).
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)

    def count_tokens(self, text: str) -> int:
        # Under the lock too: llama.cpp objects are not documented as thread-safe.
        with self._lock:
            return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _piece(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def _grammar(self, source: str) -> LlamaGrammar:
        grammar = self._grammars.get(source)
        if grammar is None:
            from llama_cpp import LlamaGrammar

            try:
                grammar = LlamaGrammar.from_string(source, verbose=False)
            except ValueError as exc:
                raise ModelCallError(f"invalid GBNF grammar: {exc}") from exc
            self._grammars[source] = grammar
        return grammar

    # --- generation ---------------------------------------------------------------------

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        prompt, format_stops = self.render(messages)
        tokens = self._tokenize_prompt(prompt)
        room = self.llm.n_ctx() - len(tokens)
        if room < MIN_ANSWER_ROOM:
            raise ModelCallError(
                f"the conversation is too long for this model's context ({len(tokens)} of "
                f"{self.llm.n_ctx()} tokens): start a new chat or raise MEGREZ_N_CTX"
            )
        max_tokens = min(sampling.max_tokens, room)
        scanner = StopScanner(stops=(*sampling.stop, *format_stops))
        text = Utf8Assembler()
        grammar = self._grammar(sampling.grammar) if sampling.grammar else None
        generated = 0
        with self._lock:
            if sampling.seed is not None:
                self.llm.set_seed(sampling.seed)
            try:
                self._evaluate_prompt(tokens)
                # The whole prompt is now in the context with fresh logits: generate() samples
                # its first token right away.
                greedy = sampling.temperature == 0 and sampling.repetition_penalty == 1
                picked = (
                    self._greedy_under(grammar)
                    if grammar is not None and greedy
                    else self.llm.generate(
                        tokens,
                        temp=sampling.temperature,
                        top_p=sampling.top_p,
                        top_k=0 if sampling.temperature > 0 else 1,
                        min_p=0.0,
                        repeat_penalty=sampling.repetition_penalty,
                        grammar=grammar,
                    )
                )
                with contextlib.closing(picked):  # a grammar's sampler is freed at once
                    for token in picked:
                        if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                            break
                        generated += 1
                        chunk = scanner.feed(text.feed(self.llm.detokenize([token], special=True)))
                        if chunk:
                            yield chunk
                        if scanner.stopped or generated >= max_tokens:
                            break
            except (ModelCallError, ReadingStopped):
                raise
            except Exception as exc:  # llama.cpp raises plain RuntimeError/ValueError
                raise ModelCallError(f"llama.cpp generation failed: {exc}") from exc
            finally:
                if usage is not None:
                    usage.add(Usage(prompt_tokens=len(tokens), completion_tokens=generated))
        tail = scanner.feed(text.flush()) + scanner.flush()
        if tail:
            yield tail

    def _greedy_under(self, grammar: LlamaGrammar) -> Generator[int, None, None]:
        """Greedy tokens under `grammar` from the evaluated prompt, as `generate` picks them
        but with the grammar checked on the likeliest token first (`llamacpp_grammar`)."""
        picker = GreedyGrammar(self._llama_cpp, self._vocab, grammar, self.llm.n_vocab())
        try:
            while True:
                token = picker.pick(self._last_logits())
                yield token
                self.llm.eval([token])
        finally:
            picker.close()

    # --- constrained choice ---------------------------------------------------------------

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        """Score each option's tokens as the start of the assistant's reply (sum of log-probs)."""
        if not options:
            raise ValueError("choose() needs at least one option")
        prompt, _ = self.render(messages)
        prompt_tokens = self._tokenize_prompt(prompt)
        scores: dict[str, float] = {}
        option_tokens = [
            self.llm.tokenize(option.encode("utf-8"), add_bos=False, special=True)
            for option in options
        ]
        # An option's last token is scored, never read: what follows it does not matter.
        branches = [tokens[:-1] for tokens in option_tokens]
        with self._lock:
            try:
                # The first options are read in the prompt's own batch, one sequence each:
                # one pass over the weights fewer per option, most of a short batch's cost.
                read = self._evaluate_prompt(prompt_tokens, then=branches[: self._sequences])
                after_prompt = read[0][0]
                for index, (option, tokens) in enumerate(zip(options, option_tokens)):
                    steps = (
                        read[index]
                        if index < len(read)
                        else [after_prompt, *self._logits_after(branches[index])]
                    )
                    scores[option] = sum(
                        float(_log_softmax(logits)[token]) for logits, token in zip(steps, tokens)
                    )
            except (ReadingStopped, ModelCallError):
                raise
            except Exception as exc:  # llama.cpp raises plain RuntimeError/ValueError
                raise ModelCallError(f"llama.cpp evaluation failed: {exc}") from exc
        if usage is not None:
            usage.add(Usage(prompt_tokens=len(prompt_tokens), completion_tokens=0))
        best = max(scores, key=scores.__getitem__)
        return Choice(option=best, scores=scores)

    # --- reading ahead -------------------------------------------------------------------

    def prefill(self, messages: Sequence[Message], until: str = "") -> None:
        """Evaluate the prompt up to the start of the line holding `until` and leave it in the
        context (not saved: the next call, the one it prepares, finds it there)."""
        prompt, _ = self.render(messages)
        if until:
            marker = prompt.find(until)
            if marker < 0:
                return
            prompt = prompt[: prompt.rfind("\n", 0, marker) + 1]
        tokens = self._tokenize_prompt(prompt)
        if len(tokens) < 2 or len(tokens) > self.llm.n_ctx() - MIN_ANSWER_ROOM:
            return
        with self._lock:
            self._evaluate_prompt(tokens, save=False)

    def _evaluate_prompt(
        self, tokens: list[int], *, save: bool = True, then: Sequence[Sequence[int]] = ()
    ) -> list[list[np.ndarray]]:
        """Leave the context holding exactly `tokens`, with the last one's logits fresh.

        Starts from the live context or a saved state, whichever shares more of `tokens`,
        and always evaluates at least the last token so its logits belong to this prompt.
        For each branch of `then` (at most the context's sequences), returns the logits
        after the prompt and after each of the branch's tokens, read in the same batch as
        the prompt's rest where they fit in one, and forgotten (the context holds the prompt
        alone); without `then`, [].
        """
        last = len(tokens) - 1
        reuse = min(common_prefix(self.llm._input_ids, tokens), last)
        saved, shared = self.states.longest(tokens)
        if saved is not None and min(shared, last) > reuse:
            if llamacpp_states.load(self._llama_cpp, self.llm.ctx, saved):
                self.llm.input_ids[: len(saved.tokens)] = saved.tokens
                reuse = min(shared, last)
            else:
                log.warning("could not load a saved llama.cpp state; evaluating the prompt")
                reuse = 0
        # eval() drops every cached position from n_tokens on before decoding the rest.
        self.llm.n_tokens = reuse
        rest = tokens[reuse:]
        piece = prefill_piece_tokens(PREFILL_REPORT_TOKENS)
        steps: list[list[np.ndarray]] = []
        if then and len(rest) + sum(map(len, then)) <= min(piece, self.llm.n_batch):
            steps = llamacpp_branches.read_branches(self.llm, self._llama_cpp, rest, then)
        elif prefill_wanted() and len(rest) > piece:
            # Pieces of 128 tokens run as fast as one 512-token batch on a CPU (measured),
            # and let the user see the sources being read.
            for start in range(0, len(rest), piece):
                self.llm.eval(rest[start : start + piece])
                report_prefill(min(start + piece, len(rest)), len(rest))
        else:
            self.llm.eval(rest)
        self.prompt_tokens_evaluated += len(tokens) - reuse
        log.debug("prompt of %d tokens: %d reused, %d read", len(tokens), reuse, len(rest))
        if save and self.states.wants(tokens):
            state = llamacpp_states.save(self._llama_cpp, self.llm.ctx, tokens)
            if state is not None:
                self.states.put(state)
        if then and not steps:
            after_prompt = self._last_logits().copy()
            steps = [[after_prompt, *self._logits_after(list(branch))] for branch in then]
        return steps

    def _logits_after(self, tokens: list[int]) -> list[np.ndarray]:
        """The logits after each of `tokens`, read in one batch after the context's prompt
        and then forgotten: one batch of a few tokens costs about what one token alone does
        on a CPU, where a token at a time made the search decision ~0.1 s per option token."""
        if not tokens:
            return []
        n_past = self.llm.n_tokens
        try:
            # Positions from n_past on are free: eval() clears them too before it writes.
            self.llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
            self.llm._batch.set_batch(tokens, n_past=n_past, logits_all=True)
            self.llm._ctx.decode(self.llm._batch)
        except Exception as exc:  # llama.cpp raises plain RuntimeError/ValueError
            raise ModelCallError(f"llama.cpp evaluation failed: {exc}") from exc
        return [
            llamacpp_branches.logits_at(self.llm, self._llama_cpp, index).copy()
            for index in range(len(tokens))
        ]

    def _last_logits(self) -> np.ndarray:
        return llamacpp_branches.logits_at(self.llm, self._llama_cpp, -1)

    def close(self) -> None:
        with self._lock:
            self.llm.close()


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    log_probs: np.ndarray = shifted - np.log(np.exp(shifted).sum())
    return log_probs


# Used only for GGUF files that carry no chat template at all.
_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
