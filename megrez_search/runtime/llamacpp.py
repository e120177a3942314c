"""GGUF models through llama.cpp (`llama-cpp-python`): the embedded default and Megrez on CPU.

Generation runs token by token through `Llama.generate`, which reuses the KV cache of the
longest common prompt prefix — so the steps of one conversation (decide, rewrite, answer)
that share their system prompt and history only pay for their new tokens. We detokenize
ourselves with special tokens kept, because Megrez's `<|function_start|>` must survive.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from megrez_search.settings import Settings

from . import megrez_format
from .base import ChatModel, Choice, Message, ModelCallError, ModelLoadError, Sampling, Usage
from .text_stream import StopScanner, Utf8Assembler

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_types import ChatCompletionRequestMessage

log = logging.getLogger(__name__)

#: Tokens kept free at the end of the context so an answer always has room to start.
MIN_ANSWER_ROOM = 16


class LlamaCppModel(ChatModel):
    modalities = frozenset({"text"})

    def __init__(self, path: Path, settings: Settings) -> None:
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
        # One context, one sequence: calls from several threads take turns.
        self._lock = threading.RLock()
        self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._grammars: dict[str, LlamaGrammar] = {}
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
        log.info("loaded %s (llama.cpp, %s dialect, n_ctx=%d)", path, self.dialect, settings.n_ctx)

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
                for token in self.llm.generate(
                    tokens,
                    temp=sampling.temperature,
                    top_p=sampling.top_p,
                    top_k=0 if sampling.temperature > 0 else 1,
                    min_p=0.0,
                    repeat_penalty=sampling.repetition_penalty,
                    grammar=grammar,
                ):
                    if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                        break
                    generated += 1
                    chunk = scanner.feed(text.feed(self.llm.detokenize([token], special=True)))
                    if chunk:
                        yield chunk
                    if scanner.stopped or generated >= max_tokens:
                        break
            except ModelCallError:
                raise
            except Exception as exc:  # llama.cpp raises plain RuntimeError/ValueError
                raise ModelCallError(f"llama.cpp generation failed: {exc}") from exc
            finally:
                if usage is not None:
                    usage.add(Usage(prompt_tokens=len(tokens), completion_tokens=generated))
        tail = scanner.feed(text.flush()) + scanner.flush()
        if tail:
            yield tail

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
        with self._lock:
            first_logits = self._eval_reusing_prefix(prompt_tokens)
            for option in options:
                option_tokens = self.llm.tokenize(
                    option.encode("utf-8"), add_bos=False, special=True
                )
                logits = first_logits
                total = 0.0
                for index, token in enumerate(option_tokens):
                    total += float(_log_softmax(logits)[token])
                    if index + 1 < len(option_tokens):
                        self.llm.eval([token])
                        logits = self._last_logits()
                scores[option] = total
                # Drop the option's tokens from the cache; the prompt stays for the next one.
                self.llm.n_tokens = len(prompt_tokens)
        if usage is not None:
            usage.add(Usage(prompt_tokens=len(prompt_tokens), completion_tokens=0))
        best = max(scores, key=scores.__getitem__)
        return Choice(option=best, scores=scores)

    def _eval_reusing_prefix(self, tokens: list[int]) -> np.ndarray:
        cached = self.llm._input_ids
        common = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            common += 1
        # At least one token is evaluated so the logits belong to this prompt's last token.
        self.llm.n_tokens = min(common, len(tokens) - 1)
        self.llm.eval(tokens[self.llm.n_tokens :])
        return self._last_logits().copy()

    def _last_logits(self) -> np.ndarray:
        pointer = self._llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),))

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
