"""Local Hugging Face folders through transformers, in-process (GPU when present).

This is how Megrez-3B-Instruct runs from its HF folder. The Megrez contract
(../shared/reference/megrez.md) is honoured exactly: the prompt is rendered by
`megrez_format.render_prompt` and tokenized without BOS, generation stops at `<|turn_end|>`
(passed explicitly, since early checkpoints had a typo'd eos), and decoding keeps special
tokens so `<|function_start|>...<|function_end|>` reaches the agent's parser.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from megrez_search.settings import Settings

from . import megrez_format
from .base import ChatModel, Choice, Message, ModelLoadError, Sampling, Usage
from .text_stream import StopScanner
from .worker_stream import WorkerStream, cancel_criteria

log = logging.getLogger(__name__)


def pick_device(preference: str) -> str:
    import torch

    if preference != "auto":
        return preference
    return "cuda" if torch.cuda.is_available() else "cpu"


class TransformersModel(ChatModel):
    modalities = frozenset({"text"})

    def __init__(self, folder: Path, settings: Settings, gguf_file: str | None = None) -> None:
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
        # Generation itself is thread-safe per call, but one model on one device runs one
        # call at a time; concurrent callers queue here instead of thrashing memory.
        self._lock = threading.Lock()
        # transformers 5 renamed forward()'s `past_key_values` to `cache`.
        forward_params = inspect.signature(self.model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in forward_params else "past_key_values"
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

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        input_ids = torch.tensor([self.prompt_ids(messages)], device=self.device)
        # A streamer per request: a shared one interleaves concurrent users' tokens.
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=False, timeout=300
        )
        kwargs: dict[str, object] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": sampling.max_tokens,
            "eos_token_id": self._stop_ids or None,
            "pad_token_id": self.tokenizer.pad_token_id or (self._stop_ids or [0])[0],
            "repetition_penalty": sampling.repetition_penalty,
            "streamer": streamer,
        }
        if sampling.temperature > 0:
            kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)

        def generate(cancelled: threading.Event) -> object:
            with self._lock, torch.inference_mode():
                return self.model.generate(**kwargs, stopping_criteria=cancel_criteria(cancelled))

        scanner = StopScanner(stops=(*sampling.stop, *self.stop_strings()))
        generation = WorkerStream(streamer, generate, scanner, "transformers generation failed")
        try:
            yield from generation
        finally:
            if usage is not None:
                sequences = generation.result
                completion = (
                    int(sequences.shape[-1]) - input_ids.shape[-1] if sequences is not None else 0
                )
                usage.add(Usage(prompt_tokens=input_ids.shape[-1], completion_tokens=completion))

    # --- constrained choice ---------------------------------------------------------------

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        import copy

        import torch

        if not options:
            raise ValueError("choose() needs at least one option")
        prompt = torch.tensor([self.prompt_ids(messages)], device=self.device)
        scores: dict[str, float] = {}
        with self._lock, torch.inference_mode():
            prefix = self.model(prompt, use_cache=True)
            first = torch.log_softmax(prefix.logits[0, -1].float(), dim=-1)
            for option in options:
                ids = self.tokenizer(option, add_special_tokens=False)["input_ids"]
                total = float(first[ids[0]])
                if len(ids) > 1:
                    rest = torch.tensor([ids], device=self.device)
                    cache = {self._cache_kwarg: copy.deepcopy(prefix.past_key_values)}
                    out = self.model(rest, use_cache=True, **cache)
                    logprobs = torch.log_softmax(out.logits[0, :-1].float(), dim=-1)
                    total += float(logprobs.gather(1, rest[0, 1:, None]).sum())
                scores[option] = total
        if usage is not None:
            usage.add(Usage(prompt_tokens=prompt.shape[-1], completion_tokens=0))
        return Choice(option=max(scores, key=scores.__getitem__), scores=scores)
