"""Files and collections through the OpenAI-compatible API (issue 26), with the `openai`
client over real loopback HTTP and a scripted model: a `file` content part as the client
sends it is read and indexed for the conversation, bad files and unknown collections are a
4xx naming the file, and a stateless request keeps nothing of its files.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import openai
import pytest

from agent.api import SearchAgent
from core.settings import Settings
from store.threads import LOCAL_USER
from tests.support.api_server import scripted_agent, serve_app
from tests.support.documents import encrypted_pdf, make_pdf

REPORT = make_pdf(
    [
        ["Annual report of the Lighthouse Company."],
        ["Staff and offices are described here."],
        ["The refund period for all orders is 45 days.", "Refunds go to the original card."],
    ]
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[openai.OpenAI, SearchAgent]]:
    from server.app import create_api

    settings = Settings(data_dir=tmp_path_factory.mktemp("api-files"), search="local:none")
    agent, _ = scripted_agent(settings)
    with (
        serve_app(create_api(agent, settings)) as base,
        openai.OpenAI(base_url=f"{base}/v1", api_key="none", max_retries=0) as client,
    ):
        yield client, agent
    agent.close()


def file_part(filename: str, data: bytes, mime: str = "application/pdf") -> dict[str, object]:
    encoded = base64.b64encode(data).decode("ascii")
    return {
        "type": "file",
        "file": {"filename": filename, "file_data": f"data:{mime};base64,{encoded}"},
    }


def ask(
    client: openai.OpenAI, parts: list[dict[str, object]], **extra: object
) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(
        model="megrez-search-nosearch",
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "What is the refund period?"}, *parts],
            }  # type: ignore[list-item]
        ],
        extra_body=extra or None,
    )


def test_a_file_part_is_indexed_for_the_conversation_and_cited_with_its_page(
    api: tuple[openai.OpenAI, SearchAgent],
) -> None:
    client, agent = api
    reply = ask(client, [file_part("report.pdf", REPORT)], thread_id="files-1")
    assert reply.choices[0].message.content
    kept = agent.store.documents.list(LOCAL_USER, chat_id="files-1")
    assert [(info.name, info.pages) for info in kept] == [("report.pdf", 3)]
    sources = (reply.model_extra or {})["sources"]
    assert {(s["file_name"], s.get("page"), s["doc_id"]) for s in sources} >= {
        ("report.pdf", 3, kept[0].doc_id)
    }
    # Streamed, the last chunk's sources carry them too; the follow-up keeps the file.
    stream = client.chat.completions.create(
        model="megrez-search-nosearch",
        messages=[{"role": "user", "content": "And how do refunds reach the customer?"}],
        stream=True,
        extra_body={"thread_id": "files-1"},
    )
    last = [chunk for chunk in stream if chunk.choices][-1]
    pages = {(s["file_name"], s.get("page")) for s in (last.model_extra or {})["sources"]}
    assert ("report.pdf", 3) in pages


def test_a_stateless_request_keeps_nothing_of_its_files(
    api: tuple[openai.OpenAI, SearchAgent],
) -> None:
    client, agent = api
    before = agent.store.documents.list(LOCAL_USER)
    ask(client, [file_part("notes.md", b"# Notes\n\nThe code word is teal.", "text/markdown")])
    assert agent.store.documents.list(LOCAL_USER) == before


def test_bad_files_and_unknown_collections_are_client_errors(
    api: tuple[openai.OpenAI, SearchAgent],
) -> None:
    client, agent = api
    before = agent.store.documents.list(LOCAL_USER)
    broken = file_part("broken.pdf", b"%PDF-1.4\nnot really")
    locked = file_part("locked.pdf", encrypted_pdf([["secret"]]))
    good = file_part("report.pdf", REPORT)
    for parts in ([good, broken], [locked]):
        with pytest.raises(openai.BadRequestError, match=r"cannot use (broken|locked)\.pdf"):
            ask(client, parts, thread_id="files-bad")
    with pytest.raises(openai.BadRequestError, match="is a path"):
        ask(client, [file_part("../../etc/passwd", b"root:x:0:0")], thread_id="files-bad")
    with pytest.raises(openai.BadRequestError, match="no collection named 'notes'"):
        ask(client, [good], collections=["notes"], thread_id="files-bad")
    # Refused by the agent once the files were in: they go again.
    with pytest.raises(openai.BadRequestError, match="pages must be between"):
        ask(client, [good], pages=0, thread_id="files-bad")
    # Nothing of a refused request was kept, not even its good file.
    assert agent.store.documents.list(LOCAL_USER) == before


def test_a_collection_is_searched_by_name(api: tuple[openai.OpenAI, SearchAgent]) -> None:
    client, agent = api
    agent.store.documents.create_collection(LOCAL_USER, "handbook")
    reply = ask(client, [], collections=["handbook"])
    assert reply.choices[0].message.content
