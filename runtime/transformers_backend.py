"""Local Hugging Face folders through transformers, in-process (GPU when present).

This is how Megrez-3B-Instruct runs from its HF folder. The Megrez contract
(../shared/reference/megrez.md) is honoured exactly: the prompt is rendered by
`megrez_format.render_prompt` and tokenized without BOS, generation stops at `<|turn_end|>`
(passed explicitly, since early checkpoints had a typo'd eos), and decoding keeps special
tokens so `<|function_start|>...<|function_end|>` reaches the agent's parser.

Generation is our own token loop (no `generate`, no streamer): `batch_scheduler`'s one decode
thread prefills a request, reusing the longest cached prompt prefix (`prefix_cache`), and
decodes concurrent requests together in one batch, from a growing cache or a static one whose
step can be a CUDA graph (`static_batch`); `token_loop` holds a request's state and picks
tokens; the caller's thread only takes its tokens and detokenizes them incrementally.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

from core.settings import RuntimeSettings

from . import megrez_format
from .base import ChatModel, Choice, Message, ModelCallError, ModelLoadError, Sampling, Usage
from .batch_scheduler import BatchScheduler
from .text_stream import StopScanner
from .token_loop import Detokenizer, Generation, make_generator

#: Tokens kept free at the end of the context so an answer always has room to start.
MIN_ANSWER_ROOM = 16

log = logging.getLogger(__name__)


def pick_device(preference: str) -> str:
    import torch

    if preference != "auto":
        return preference
    return "cuda" if torch.cuda.is_available() else "cpu"


class TransformersModel(ChatModel):
    modalities = frozenset({"text"})

    def __init__(
        self, folder: Path, settings: RuntimeSettings, gguf_file: str | None = None
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.folder = folder
        self.name = folder.name if gguf_file is None else Path(gguf_file).stem
        self.device = pick_device(settings.device)
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                folder, local_files_only=True, gguf_file=gguf_file
            )
            self.model = AutoModelForCausalLM.from_pretrained(
                folder, local_files_only=True, gguf_file=gguf_file, dtype=dtype
            ).to(self.device)  # type: ignore[arg-type]  # transformers wraps Module.to unbound
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"could not load the model folder {folder}: {exc}") from exc
        self.model.eval()
        vocab = self.tokenizer.get_vocab()
        self.dialect = "megrez" if megrez_format.ROLE_START in vocab else "generic"
        self._stop_ids = self._stop_token_ids(vocab)
        # Concurrent callers decode together, one batched step at a time, in one decode thread.
        self.scheduler = BatchScheduler(
            self.model,
            self.device,
            static_cache=settings.static_cache,
            cuda_graphs=settings.cuda_graphs and self.device.startswith("cuda"),
        )
        self._max_positions = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)
        log.info("loaded %s (transformers on %s, %s dialect)", folder, self.device, self.dialect)

    def _stop_token_ids(self, vocab: dict[str, int]) -> list[int]:
        ids: set[int] = set()
        eos = self.model.generation_config.eos_token_id
        ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        if self.dialect == "megrez":
            ids.update(vocab[token] for token in megrez_format.STOP if token in vocab)
        return sorted(ids)

    # --- prompt -----------------------------------------------------------------------

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of the chat prompt, exactly as the model was trained to see it."""
        if self.dialect == "megrez":
            text = megrez_format.render_prompt(messages)
            # No BOS for Megrez: add_special_tokens=False keeps the tokenizer from adding one.
            ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            return ids
        plain = [
            {"role": "user" if m.role == "observation" else m.role, "content": m.content}
            for m in messages
        ]
        rendered = self.tokenizer.apply_chat_template(
            plain, add_generation_prompt=True, tokenize=False
        )
        rendered_ids: list[int] = self.tokenizer(rendered, add_special_tokens=False)["input_ids"]
        return rendered_ids

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def stop_strings(self) -> tuple[str, ...]:
        stops = [str(self.tokenizer.decode([i])) for i in self._stop_ids]
        if self.dialect == "megrez":
            stops.extend(megrez_format.STOP)
        return tuple(dict.fromkeys(s for s in stops if s))

    # --- generation ---------------------------------------------------------------------

    def _sequence(self, prompt: list[int], sampling: Sampling) -> Generation:
        room = self._max_positions - len(prompt) if self._max_positions else sampling.max_tokens
        if self._max_positions and room < MIN_ANSWER_ROOM:
            raise ModelCallError(
                f"the conversation is too long for this model's context ({len(prompt)} of "
                f"{self._max_positions} tokens): start a new chat"
            )
        return Generation(
            prompt=prompt,
            sampling=sampling,
            max_new_tokens=min(sampling.max_tokens, room),
            stop_ids=frozenset(self._stop_ids),
            generator=make_generator(sampling, self.device),
        )

    def generate_ids(
        self, prompt: list[int], sampling: Sampling, usage: Usage | None = None
    ) -> Generator[int, None, None]:
        """The token loop: generated ids one at a time, stop ids excluded.

        Closing the iterator ends the sequence before its next token; other users' sequences
        in the same batch go on.
        """
        sequence = self._sequence(prompt, sampling)
        if sampling.max_tokens <= 0:
            return
        self.scheduler.submit(sequence)
        try:
            while tokens := self.scheduler.take(sequence):
                yield from tokens
        finally:
            self.scheduler.release(sequence)
            if usage is not None:
                usage.add(Usage(len(prompt), len(sequence.generated)))

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        scanner = StopScanner(stops=(*sampling.stop, *self.stop_strings()))
        text = Detokenizer(self.tokenizer)
        tokens = self.generate_ids(self.prompt_ids(messages), sampling, usage)
        try:
            for token in tokens:
                chunk = scanner.feed(text.feed(token))
                if chunk:
                    yield chunk
                if scanner.stopped:
                    return
            tail = scanner.feed(text.flush()) + scanner.flush()
            if tail:
                yield tail
        finally:
            tokens.close()

    # --- constrained choice ---------------------------------------------------------------

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        if not options:
            raise ValueError("choose() needs at least one option")
        prompt = self.prompt_ids(messages)
        continuations = [
            self.tokenizer(option, add_special_tokens=False)["input_ids"] for option in options
        ]
        totals = self.scheduler.score(prompt, continuations)
        scores = dict(zip(options, totals, strict=True))
        if usage is not None:
            usage.add(Usage(prompt_tokens=len(prompt), completion_tokens=0))
        return Choice(option=max(scores, key=scores.__getitem__), scores=scores)

    @property
    def prompt_tokens_evaluated(self) -> int:
        """Prompt tokens run through the model so far; the rest were a reused prefix."""
        return self.scheduler.prompt_tokens_evaluated
