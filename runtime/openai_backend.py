"""Any OpenAI-compatible server (first of all `vllm serve` running Megrez) through `openai`.

For Megrez behind vLLM we ask for `skip_special_tokens=False` (vLLM drops special tokens by
default, which would erase `<|function_start|>`), pass `<|turn_end|>` as an explicit stop, and
keep the `observation` role, which vLLM's chat layer accepts as a custom role.
Images and audio go as OpenAI content parts when `MEGREZ_OPENAI_MODALITIES` says the server
takes them; otherwise the runtime's perception turns them into text first.
"""

from __future__ import annotations

import base64
import logging
import math
import mimetypes
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from core.settings import RuntimeSettings

from . import megrez_format
from .base import (
    ChatModel,
    Choice,
    InputError,
    Message,
    Modality,
    ModelCallError,
    Sampling,
    Usage,
)
from .text_stream import StopScanner

log = logging.getLogger(__name__)

#: Characters per token used to estimate counts where the server exposes no tokenizer.
CHARS_PER_TOKEN = 4

_Result = TypeVar("_Result")


class OpenAIModel(ChatModel):
    def __init__(self, base_url: str, model_name: str | None, settings: RuntimeSettings) -> None:
        import openai

        self._openai = openai
        self.base_url = base_url
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=settings.openai_api_key.get_secret_value(),
            timeout=settings.request_timeout_s,
            max_retries=1,
        )
        self._model_name = model_name
        self._name_lock = threading.Lock()
        served: set[Modality] = {"text"}
        for name in settings.openai_modalities.split(","):
            if (modality := name.strip()) in ("image", "audio"):
                served.add(cast(Modality, modality))
        self.modalities = frozenset(served)
        self._stream_usage_supported = True

    # --- identity ---------------------------------------------------------------------

    @property
    def name(self) -> str:  # type: ignore[override]
        """The served model's name: given in the spec, else the server's first model."""
        with self._name_lock:
            if self._model_name is None:
                models = self._call(lambda: self.client.models.list())
                served = [m.id for m in models.data]
                if not served:
                    raise ModelCallError(f"the server at {self.base_url} serves no model")
                self._model_name = served[0]
            return self._model_name

    @property
    def dialect(self) -> str:  # type: ignore[override]
        return "megrez" if "megrez" in self.name.lower() else "generic"

    # --- requests ---------------------------------------------------------------------

    def _call(self, request: Callable[[], _Result]) -> _Result:
        """Run `request`, turning the client's errors into one clear `ModelCallError`."""
        openai = self._openai
        try:
            return request()
        except openai.APITimeoutError as exc:
            raise ModelCallError(f"the model server at {self.base_url} timed out") from exc
        except openai.APIConnectionError as exc:
            raise ModelCallError(
                f"cannot reach the model server at {self.base_url}: is it running?"
            ) from exc
        except openai.APIStatusError as exc:
            raise ModelCallError(
                f"the model server at {self.base_url} answered HTTP {exc.status_code}: "
                f"{_short(exc.message)}"
            ) from exc

    def _wire_messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        wire: list[dict[str, Any]] = []
        megrez = self.dialect == "megrez"
        for message in messages:
            role = message.role if megrez or message.role != "observation" else "user"
            parts: list[dict[str, Any]] = []
            if message.image is not None and "image" in self.modalities:
                parts.append({"type": "image_url", "image_url": {"url": _data_url(message.image)}})
            if message.audio is not None and "audio" in self.modalities:
                parts.append(
                    {
                        "type": "input_audio",
                        "input_audio": {
                            "data": _b64(message.audio),
                            "format": message.audio.suffix.lstrip(".").lower() or "wav",
                        },
                    }
                )
            if parts:
                if message.content:
                    parts.insert(0, {"type": "text", "text": message.content})
                wire.append({"role": role, "content": parts})
            else:
                wire.append({"role": role, "content": message.content})
        return wire

    def _request_args(self, messages: Sequence[Message], sampling: Sampling) -> dict[str, Any]:
        stops = list(sampling.stop)
        extra: dict[str, Any] = {}
        if self.dialect == "megrez":
            stops.extend(megrez_format.STOP)
            extra["skip_special_tokens"] = False
        if sampling.repetition_penalty != 1.0:
            extra["repetition_penalty"] = sampling.repetition_penalty
        args: dict[str, Any] = {
            "model": self.name,
            "messages": self._wire_messages(messages),
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if stops:
            args["stop"] = list(dict.fromkeys(stops))[:4]  # OpenAI's API takes at most 4
        if sampling.seed is not None:
            args["seed"] = sampling.seed
        if extra:
            args["extra_body"] = extra
        return args

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        args = self._request_args(messages, sampling)
        stops = (*sampling.stop, *(megrez_format.STOP if self.dialect == "megrez" else ()))
        scanner = StopScanner(stops=stops)
        reported: Usage | None = None
        produced = 0
        chunks = self._open_stream(args)
        try:
            for chunk in chunks:
                if getattr(chunk, "usage", None):
                    reported = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                if not chunk.choices:
                    continue
                piece = chunk.choices[0].delta.content or ""
                if piece:
                    produced += 1
                    text = scanner.feed(piece)
                    if text:
                        yield text
                if scanner.stopped:
                    break
        except self._openai.OpenAIError as exc:
            raise ModelCallError(
                f"the model server at {self.base_url} failed mid-answer: {exc}"
            ) from exc
        finally:
            chunks.close()
            if usage is not None:
                usage.add(reported or self._estimate_usage(messages, produced))
        tail = scanner.flush()
        if tail:
            yield tail

    def _open_stream(self, args: dict[str, Any]) -> Any:
        if self._stream_usage_supported:
            try:
                return self._call(
                    lambda: self.client.chat.completions.create(
                        stream=True, stream_options={"include_usage": True}, **args
                    )
                )
            except ModelCallError as exc:
                # Some servers reject stream_options; ask once more without it.
                if "HTTP 4" not in str(exc):
                    raise
                self._stream_usage_supported = False
                log.info("server rejected stream_options; token counts will be estimated")
        return self._call(lambda: self.client.chat.completions.create(stream=True, **args))

    def complete(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> str:
        args = self._request_args(messages, sampling)
        response = self._call(lambda: self.client.chat.completions.create(**args))
        text = response.choices[0].message.content or "" if response.choices else ""
        scanner = StopScanner(stops=args.get("stop", ()))
        text = scanner.feed(text) + scanner.flush()
        if usage is not None:
            if response.usage is not None:
                usage.add(Usage(response.usage.prompt_tokens, response.usage.completion_tokens))
            else:
                usage.add(self._estimate_usage(messages, self.count_tokens(text)))
        return text

    # --- constrained choice ---------------------------------------------------------------

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        """Score options on the first answer token's log-probs; fall back to matching text.

        Servers without logprobs (llama.cpp's needs logits_all) get a short greedy answer,
        and the option it starts with wins; when it starts with none, the last option (the
        callers' conservative default) is taken.
        """
        if not options:
            raise ValueError("choose() needs at least one option")
        sampling = Sampling(max_tokens=8, temperature=0.0)
        args = self._request_args(messages, sampling)
        try:
            response = self._call(
                lambda: self.client.chat.completions.create(logprobs=True, top_logprobs=20, **args)
            )
        except ModelCallError as exc:
            if "HTTP 4" not in str(exc) and "HTTP 5" not in str(exc):
                raise
            response = self._call(lambda: self.client.chat.completions.create(**args))
        if usage is not None and response.usage is not None:
            usage.add(Usage(response.usage.prompt_tokens, response.usage.completion_tokens))
        choice = response.choices[0] if response.choices else None
        scores = _first_token_scores(choice, options)
        if scores:
            return Choice(option=max(scores, key=scores.__getitem__), scores=scores)
        text = (choice.message.content or "").strip().lower() if choice else ""
        for option in options:
            if option.strip() and text.startswith(option.strip().lower()):
                return Choice(option=option)
        return Choice(option=options[-1])

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def _estimate_usage(self, messages: Sequence[Message], completion_tokens: int) -> Usage:
        prompt = sum(self.count_tokens(m.content) for m in messages)
        return Usage(prompt_tokens=prompt, completion_tokens=completion_tokens)

    def close(self) -> None:
        self.client.close()


def _first_token_scores(choice: Any, options: Sequence[str]) -> dict[str, float]:
    """Option -> log-prob of its first characters among the first position's top tokens."""
    logprobs = getattr(choice, "logprobs", None) if choice is not None else None
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return {}
    top = {item.token.strip().lower(): item.logprob for item in content[0].top_logprobs or []}
    scores: dict[str, float] = {}
    for option in options:
        key = option.strip().lower()
        matches = [lp for token, lp in top.items() if token and key.startswith(token)]
        if matches:
            scores[option] = max(matches)
    return scores if len(scores) == len(options) else {}


def _b64(path: Path) -> str:
    try:
        return base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _data_url(path: Path) -> str:
    mime = mimetypes.guess_type(str(path))[0] or "image/png"
    return f"data:{mime};base64,{_b64(path)}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
