"""Files as sources in the agent, with the real tiny model (SmolLM2-135M on llama.cpp): a
chat's PDF is searched, its page numbered and cited "report.pdf, p. 3"; a question about the
file searches it without the web; attached collections stay with the conversation; another
user's files never show up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.api import AskRequest, SearchAgent
from agent.documents import read_file
from agent.events import PageEvent
from core.errors import MegrezSearchError
from core.settings import Settings
from retrieval.policy import DocumentLimits
from tests.support.documents import make_pdf
from wiring import search_agent

pytestmark = pytest.mark.slow

REPORT = make_pdf(
    [
        ["Lighthouse Company annual report.", "Prepared by the finance office."],
        ["Offices are in Oslo and Bergen.", "The company employs ninety people."],
        ["Refund policy.", "The refund period for all orders is 45 days after delivery."],
        ["Appendix: glossary of terms."],
    ]
)
GARDEN = b"# Garden notes\n\nThe tomatoes were planted on the ninth of May by Ingrid.\n"


@pytest.fixture
def agent(offline_settings: Settings) -> Iterator[SearchAgent]:
    # offline_settings' web provider (local:none) fails if it is ever asked.
    with search_agent(offline_settings) as agent:
        yield agent


def _file_sources(result):  # type: ignore[no-untyped-def]
    return [s for s in result.sources if "file_name" in s]


def test_a_chat_file_is_searched_alone_and_its_page_cited(agent: SearchAgent) -> None:
    agent.documents.add("alice", read_file("report.pdf", REPORT, DocumentLimits()), chat_id="t1")

    events = list(
        agent.stream(
            AskRequest("What is the refund period in the attached report?", "t1", user="alice")
        )
    )
    result = events[-1].result

    assert result.ok, result.error
    assert result.searched and "about the files" in result.decision
    assert not any("local:none" in failure for failure in result.failures)  # no web search
    files = _file_sources(result)
    page3 = [s for s in files if s.get("page") == 3]
    assert page3 and page3[0]["title"] == "report.pdf, p. 3"
    assert page3[0]["file_name"] == "report.pdf" and page3[0]["url"].startswith("doc:")
    shown = dict(zip((s["n"] for s in result.sources), result.passages, strict=True))
    assert "45 days" in shown[page3[0]["n"]]
    # The page was "read" from the store, announced like a fetched web page.
    assert any(isinstance(e, PageEvent) and e.url == page3[0]["url"] and e.ok for e in events)
    assert page3[0]["n"] in result.citations, (result.answer, result.sources)


def test_with_web_search_off_the_files_are_still_searched(agent: SearchAgent) -> None:
    agent.documents.add("alice", read_file("report.pdf", REPORT, DocumentLimits()), chat_id="t2")

    result = agent.invoke(
        AskRequest("How long is the refund period?", "t2", user="alice", search=False)
    )

    assert result.ok and result.searched, result.error
    assert any(s.get("page") == 3 for s in _file_sources(result))


def test_an_attached_collection_stays_with_the_conversation(agent: SearchAgent) -> None:
    notes = read_file("garden.md", GARDEN, DocumentLimits())
    agent.documents.add("alice", notes, collection="garden")

    first = agent.invoke(
        AskRequest(
            "When were the tomatoes planted?",
            "t3",
            user="alice",
            search=False,
            collections=["garden"],
        )
    )
    follow_up = agent.invoke(
        AskRequest("Who planted the tomatoes?", "t3", user="alice", search=False)
    )

    for result in (first, follow_up):
        assert [s["file_name"] for s in _file_sources(result)] == ["garden.md"], result.sources


def test_another_users_files_and_collections_stay_out_of_reach(agent: SearchAgent) -> None:
    agent.documents.add("alice", read_file("report.pdf", REPORT, DocumentLimits()), chat_id="t4")
    agent.documents.add(
        "alice", read_file("garden.md", GARDEN, DocumentLimits()), collection="garden"
    )

    # Bob's own conversation under Alice's chat id has no files of his.
    result = agent.invoke(
        AskRequest(
            "What is the refund period in the attached report?", "t4", user="bob", search=False
        )
    )
    assert not result.searched and _file_sources(result) == []
    with pytest.raises(MegrezSearchError, match="no collection named 'garden'"):
        agent.invoke(AskRequest("Tomatoes?", "t5", user="bob", collections=["garden"]))


def test_deep_mode_researches_the_files(agent: SearchAgent) -> None:
    agent.documents.add("alice", read_file("report.pdf", REPORT, DocumentLimits()), chat_id="t6")

    result = agent.invoke(
        AskRequest(
            "Where are the offices and what is the refund period?",
            "t6",
            user="alice",
            search=False,
            deep=True,
        )
    )

    assert result.ok, result.error
    assert {2, 3} <= {s.get("page") for s in _file_sources(result)}, result.sources
