"""`megrez-search serve` as a real process, used through the `openai` client.

The embedded model (SmolLM2-135M) answers from the Python docs served on loopback and
indexed as `local:docs`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image, ImageDraw, ImageFont

from core.settings import Settings
from runtime import Message, Sampling, load_model
from tests.support.processes import megrez_process

pytestmark = pytest.mark.slow

QUESTION = "What is the default maxsize of functools.lru_cache?"


@pytest.fixture(scope="module")
def api_base(ui_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("api") / "serve.log"
    with megrez_process(["serve"], ui_settings, "/v1/models", log_path) as base:
        yield base + "/v1"


@pytest.fixture(scope="module")
def client(api_base: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=api_base, api_key="unused", max_retries=0, timeout=300) as client:
        yield client


def _cited_numbers(text: str) -> set[int]:
    """Citations in the prose; fenced code is kept verbatim, so its `x[0]` is an index."""
    prose = re.sub(r"```.*?(?:```|$)", "", text, flags=re.DOTALL)
    return {int(n) for n in re.findall(r"\[(\d+)\]", prose)}


def test_models_lists_the_aliases(client: openai.OpenAI) -> None:
    assert {model.id for model in client.models.list()} == {
        "megrez-search",
        "megrez-search-nosearch",
        "megrez-search-deep",
    }


TWO_HOP = (
    "The getopt module's docs recommend a different module to users who want less code and "
    "better help and error messages. In which Python version was that recommended module added?"
)


@pytest.mark.parametrize(
    ("model", "extra_body"), [("megrez-search-deep", None), ("megrez-search", {"deep": True})]
)
def test_deep_mode_streams_progress_then_sources(
    client: openai.OpenAI, model: str, extra_body: dict | None
) -> None:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": TWO_HOP}],
        stream=True,
        extra_body=extra_body,
    )
    chunks = list(stream)
    progress = [(c.model_extra or {}).get("megrez_event") for c in chunks]
    kinds = [event["type"] for event in progress if event]
    assert kinds[0] == "plan" and {"research", "note", "reflect"} <= set(kinds)
    first_plan = next(event for event in progress if event and event["type"] == "plan")
    assert len(first_plan["subquestions"]) >= 2
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    extra = final.model_extra or {}
    urls = [source["url"] for source in extra["sources"]]
    assert any(url.endswith("library/getopt.html") for url in urls), urls
    assert any(url.endswith("library/argparse.html") for url in urls), urls
    assert extra["megrez"]["research"]["rounds"] >= 2
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()


def test_completion_searches_and_returns_sources(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="megrez-search", messages=[{"role": "user", "content": QUESTION}]
    )
    text = response.choices[0].message.content or ""
    extra = response.model_extra or {}
    assert extra["megrez"]["searched"] is True
    urls = [source["url"] for source in extra["sources"]]
    assert any(url.endswith("library/functools.html") for url in urls), urls
    assert text.strip()
    numbers = {source["n"] for source in extra["sources"]}
    assert _cited_numbers(text) and _cited_numbers(text) <= numbers  # citations point at sources
    # Each cited sentence names its source and the passage's sentence that backs it (none
    # when the model's citations backed nothing and the answer lists the sources instead).
    claims = extra["megrez"]["claims"]
    assert bool(claims) == bool(extra["megrez"]["citations"])
    assert all(c["source"] in numbers and c["sentence"] in text for c in claims)
    # Each source carries the start of its passage, as the UI's cards and previews show it.
    assert all(isinstance(s["snippet"], str) and s["snippet"] for s in extra["sources"])
    assert response.usage is not None and response.usage.completion_tokens > 0


def test_streamed_completion_adds_up_and_ends_with_sources(client: openai.OpenAI) -> None:
    # An earlier turn comes before the sources in the prompt: the model must read them again
    # (the same question alone would find its prompt saved by the test above).
    stream = client.chat.completions.create(
        model="megrez-search",
        messages=[
            {"role": "user", "content": "Hi!"},
            {"role": "assistant", "content": "Hello! What would you like to know?"},
            {"role": "user", "content": QUESTION},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 3  # it streamed, not one block
    # Before the first word, the stream said how far the model had read its sources.
    first_word = chunks.index(content_chunks[0])
    reading = [(c.model_extra or {}).get("megrez_event") for c in chunks[:first_word]]
    reading = [event for event in reading if event and event["type"] == "prefill"]
    assert reading and reading[-1]["done"] == reading[-1]["total"] > 0
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    extra = final.model_extra or {}
    assert any(s["url"].endswith("library/functools.html") for s in extra["sources"])
    assert extra["megrez"]["searched"] is True
    assert text.strip()
    # The streamed text is the checked answer when the check changed nothing.
    assert extra["megrez"]["answer"].strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize(
    ("model", "extra_body"),
    [("megrez-search-nosearch", None), ("megrez-search", {"search": False})],
)
def test_search_off_is_honoured(client: openai.OpenAI, model: str, extra_body: dict | None) -> None:
    response = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], extra_body=extra_body
    )
    extra = response.model_extra or {}
    assert response.choices[0].message.content
    assert extra["megrez"]["searched"] is False
    assert extra["sources"] == [] and extra["megrez"]["queries"] == []


def test_pages_extension_limits_the_sources(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="megrez-search",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"pages": 1},
    )
    extra = response.model_extra or {}
    assert extra["megrez"]["searched"] is True and len(extra["sources"]) == 1


def test_streamed_search_off_has_no_sources(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="megrez-search-nosearch",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
        )
    )
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    assert (final.model_extra or {})["sources"] == []
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()


def test_bad_requests_get_openai_errors(client: openai.OpenAI, api_base: str) -> None:
    with pytest.raises(openai.NotFoundError, match="unknown model"):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="question is empty"):
        client.chat.completions.create(
            model="megrez-search", messages=[{"role": "user", "content": " "}]
        )
    with pytest.raises(openai.BadRequestError, match="data: URLs"):
        client.chat.completions.create(
            model="megrez-search",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/x.png"}},
                    ],
                }
            ],
        )
    with pytest.raises(openai.BadRequestError, match="pages must be between"):
        client.chat.completions.create(
            model="megrez-search",
            messages=[{"role": "user", "content": QUESTION}],
            extra_body={"pages": 0},
        )
    # Not JSON at all: still an OpenAI-shaped error, not a stack trace.
    reply = httpx.post(
        f"{api_base}/chat/completions", content=b"{", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400 and "error" in reply.json()


def test_oversized_bodies_are_refused_with_413(api_base: str) -> None:
    """Inline attachments make bodies big: past MEGREZ_MAX_UPLOAD_MB (25 MB) the server refuses
    them, whether the size is declared up front or the body streams in chunks."""
    huge = b"x" * 26_000_000
    declared = httpx.post(
        f"{api_base}/chat/completions", content=huge, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert "MEGREZ_MAX_UPLOAD_MB" in declared.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:
        for _ in range(27):
            yield b" " * 1_000_000

    chunked = httpx.post(
        f"{api_base}/chat/completions",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "too_large"
    # The server is still there for the next client.
    assert httpx.get(f"{api_base}/models").status_code == 200


def test_runtime_openai_backend_runs_against_this_server(api_base: str) -> None:
    """The runtime's openai: backend (what `--model openai:URL` uses) talks to our API."""
    model = load_model(Settings(model=f"openai:{api_base}#megrez-search-nosearch"))
    text = model.complete(
        [Message("user", "What is the capital of France?")], Sampling(max_tokens=64)
    )
    assert text.strip()
    streamed = "".join(model.stream([Message("user", "Say hello.")], Sampling(max_tokens=32)))
    assert streamed.strip()


def test_image_question_as_a_data_url(client: openai.OpenAI, tmp_path: Path) -> None:
    """An OpenAI `image_url` content part: the server reads the text in the image."""
    image = Image.new("RGB", (720, 200), "white")
    ImageDraw.Draw(image).text(
        (40, 60), "MEGREZ 2026", font=ImageFont.load_default(size=80), fill="black"
    )
    path = tmp_path / "sign.png"
    image.save(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    response = client.chat.completions.create(
        model="megrez-search-nosearch",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What text is written in this image?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
                ],
            }
        ],
    )
    extra = response.model_extra or {}
    assert "MEGREZ" in (extra["megrez"]["image_text"] or "")
    assert response.choices[0].message.content
