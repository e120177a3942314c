"""The openai: backend against a real OpenAI-compatible server nobody here wrote.

`llama_cpp.server` (llama-cpp-python's `[server]` extra) serves the embedded GGUF on loopback,
speaking the same wire format as `vllm serve`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from core.settings import Settings
from runtime import ChatModel, Message, ModelCallError, Sampling, Usage, load_model
from runtime.openai_backend import OpenAIModel
from runtime.registry import embedded_gguf_path
from tests.support.servers import free_port, wait_until_serving

# "Answer in one word": asked only "What is the capital of France?", the 135M model wrote
# "Paris" with llama.cpp's AVX-512 kernels and French nonsense with its AVX2 ones.
CAPITAL = [
    Message("system", "You are a helpful assistant."),
    Message("user", "What is the capital of France? Answer in one word."),
]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    # The server logs a lot while loading: a file, not a pipe nobody drains, takes it.
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log_file = log_path.open("w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(embedded_gguf_path()),
            "--model_alias",
            "smollm2-135m-instruct",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_serving(process, f"{base}/models", log_path)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log_file.close()


@pytest.fixture(scope="module")
def model(server_url: str) -> ChatModel:
    return load_model(Settings(model=f"openai:{server_url}"))


def test_model_name_comes_from_the_server(model: ChatModel) -> None:
    assert model.name == "smollm2-135m-instruct"
    assert model.dialect == "generic"


def test_streaming_answer(model: ChatModel) -> None:
    usage = Usage()
    chunks = list(model.stream(CAPITAL, Sampling(max_tokens=30), usage))
    assert len(chunks) > 1
    assert "Paris" in "".join(chunks)
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


def test_non_streaming_answer_with_server_usage(model: ChatModel) -> None:
    usage = Usage()
    assert "Paris" in model.complete(CAPITAL, Sampling(max_tokens=30), usage)
    assert usage.prompt_tokens > 10 and 0 < usage.completion_tokens <= 30


def test_stop_sequence_honoured(model: ChatModel) -> None:
    assert "Paris" not in model.complete(CAPITAL, Sampling(max_tokens=30, stop=("Paris",)))


def test_choose_returns_an_option(model: ChatModel) -> None:
    choice = model.choose([Message("user", "Answer Yes or No: is water wet?")], ["Yes", "No"])
    assert choice.option in {"Yes", "No"}


def test_named_model_in_spec(server_url: str) -> None:
    model = load_model(Settings(model=f"openai:{server_url}#smollm2-135m-instruct"))
    assert "Paris" in model.complete(CAPITAL, Sampling(max_tokens=30))


def test_unreachable_server_is_a_clear_error() -> None:
    model = load_model(Settings(model=f"openai:http://127.0.0.1:{free_port()}/v1#m"))
    with pytest.raises(ModelCallError, match="cannot reach the model server"):
        model.complete(CAPITAL, Sampling(max_tokens=5))


def test_megrez_requests_keep_special_tokens_and_turn_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What we send to `vllm serve` for Megrez (no server needed to check the request)."""
    image = tmp_path / "sign.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    model = OpenAIModel(
        "http://127.0.0.1:9/v1",
        "Infinigence/Megrez-3B-Instruct",
        Settings(openai_modalities="image").runtime,
    )
    args = model._request_args(
        [Message("observation", "[[citation:1]] ctx"), Message("user", "q", image=image)],
        Sampling(max_tokens=7),
    )
    assert model.dialect == "megrez"
    assert args["extra_body"]["skip_special_tokens"] is False
    assert "<|turn_end|>" in args["stop"]
    assert args["messages"][0] == {"role": "observation", "content": "[[citation:1]] ctx"}
    parts = args["messages"][1]["content"]
    assert parts[0] == {"type": "text", "text": "q"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
