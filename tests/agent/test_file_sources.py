"""The small rules of files as sources: which questions are about the files, how a file
source is named and parsed back, and that attached collections outlive a turn's reset."""

from __future__ import annotations

import pytest

from agent.documents import refers_to_files
from agent.file_sources import file_fields, parse_source_url, source_url
from agent.state import source_of, turn_input

DOC_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "question",
    [
        "What does the attached file say about refunds?",
        "Summarise this document.",
        "In the PDF I uploaded, who is the author?",
        "这个文件的主要结论是什么？",
        "添付の資料の結論は？",
    ],
)
def test_questions_about_the_files(question: str) -> None:
    assert refers_to_files(question)


@pytest.mark.parametrize(
    "question",
    [
        "How do I open a file in Python?",
        "What is a document database?",
        "Which files does git ignore by default?",
    ],
)
def test_questions_that_only_mention_files(question: str) -> None:
    assert not refers_to_files(question)


def test_a_file_source_carries_its_file_and_page() -> None:
    url = source_url(DOC_ID, 7)
    context = {"n": 2, "url": url, "title": "report, final.pdf, p. 7", "text": "Refunds: 45 days."}

    source = source_of(context)  # type: ignore[arg-type]

    assert parse_source_url(url) == (DOC_ID, 7)
    assert source["file_name"] == "report, final.pdf" and source["page"] == 7  # type: ignore[typeddict-item]
    assert source["doc_id"] == DOC_ID and source["snippet"] == "Refunds: 45 days."  # type: ignore[typeddict-item]
    assert file_fields(source_url(DOC_ID, None), "notes.md") == {
        "doc_id": DOC_ID,
        "file_name": "notes.md",
    }
    assert file_fields("https://example.org/doc:x", "page") == {}


def test_a_turn_keeps_the_conversations_collections_unless_it_names_others() -> None:
    assert "collections" not in turn_input(question="q")
    assert "collections" not in turn_input(question="q", collections=None)
    assert turn_input(question="q", collections=["papers"])["collections"] == ["papers"]
    assert turn_input(question="q", collections=[])["collections"] == []
