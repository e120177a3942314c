"""The generic dialect's query in the documentation's terms (`MEGREZ_DOCS_QUERY`): searched
besides the question's keywords, never instead of them; its best new page is read too.

The queries are read off a SearXNG-shaped search engine on loopback; the model is scripted.
"""

from __future__ import annotations

from agent.api import AskRequest
from agent.docs_query import without_guessed_numbers
from agent.events import SearchResultsEvent
from agent.prompts import template
from core.settings import Settings
from retrieval.query import keyword_query
from tests.support.docs_index import ALLOW_HOSTS
from tests.support.search_engine import SearchEngine, serve_search_engine

QUESTION = "When I copy a commit over from another branch, how do I record where it came from?"
PAGE = (
    "<html><head><title>git-cherry-pick(1)</title></head><body><article>"
    "<h1>git-cherry-pick(1)</h1><p>-x: When recording the commit, append a line that says "
    '"(cherry picked from commit …)" to the original commit message.</p>'
    "</article></body></html>"
)
ANSWER = 'It appends "(cherry picked from commit …)" to the message [1].'


def settings_for(engine: SearchEngine, tmp_path, **update) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        search=f"searxng:{engine.base_url}",
        allow_hosts=ALLOW_HOSTS,
        decide_bias=1.0,  # the scripted likelihoods tie: search
        **update,
    )


def test_the_documentations_terms_are_searched_besides_the_users_words(tmp_path, scripted_agent):
    with serve_search_engine({"/git-cherry-pick.html": ("git-cherry-pick(1)", PAGE)}) as engine:
        settings = settings_for(engine, tmp_path, docs_query=True)
        agent, model = scripted_agent(settings, ["git cherry-pick -x", ANSWER], dialect="generic")
        result = agent.invoke(AskRequest(QUESTION))
    written = next(call for call in model.calls if call.sampling and call.sampling.max_tokens == 24)
    assert written.messages[0].content == template("common", "docs_query_system")
    assert written.messages[-1].content == f"Question: {QUESTION}"
    assert "git cherry-pick -x" in engine.queries  # the model's terms, searched as written
    assert keyword_query(QUESTION) in engine.queries  # and the user's words, as before
    assert result.queries == [keyword_query(QUESTION)]  # the query shown stays the user's
    assert result.answer == ANSWER and result.citations == [1]


def test_without_the_setting_no_model_call_writes_a_query(tmp_path, scripted_agent) -> None:
    with serve_search_engine({"/git-cherry-pick.html": ("git-cherry-pick(1)", PAGE)}) as engine:
        agent, model = scripted_agent(settings_for(engine, tmp_path), [ANSWER], dialect="generic")
        result = agent.invoke(AskRequest(QUESTION))
    assert result.answer == ANSWER
    assert all(call.sampling is None or call.sampling.max_tokens != 24 for call in model.calls)
    assert "git cherry-pick -x" not in engine.queries


def test_a_chatty_reply_is_no_query(tmp_path, scripted_agent) -> None:
    with serve_search_engine({"/git-cherry-pick.html": ("git-cherry-pick(1)", PAGE)}) as engine:
        settings = settings_for(engine, tmp_path, docs_query=True)
        chatty = "Sure! Here is a query you could use for that: git log"
        agent, _ = scripted_agent(settings, [chatty, ANSWER], dialect="generic")
        result = agent.invoke(AskRequest(QUESTION))
    assert result.answer == ANSWER
    assert engine.queries and not any("Sure" in query for query in engine.queries)


def test_the_documentations_terms_add_a_page_and_never_take_one_away(tmp_path, scripted_agent):
    """The user's words find the three pages wanted; the model's query finds one of them and
    the cherry-pick page: that one is added after theirs, none of theirs is dropped."""
    pages = {
        f"/p{n}.html": (f"Page {n}", PAGE.replace("git-cherry-pick(1)", f"Page {n}"))
        for n in range(3)
    }
    pages["/git-cherry-pick.html"] = ("git-cherry-pick(1)", PAGE)

    def finds(query: str) -> list[str]:
        return (
            ["/p0.html", "/git-cherry-pick.html"]
            if "cherry" in query
            else ["/p0.html", "/p1.html", "/p2.html"]
        )

    with serve_search_engine(pages, finds) as engine:
        settings = settings_for(engine, tmp_path, docs_query=True, pages=3)
        agent, _ = scripted_agent(settings, ["git cherry-pick -x", ANSWER], dialect="generic")
        events = list(agent.stream(AskRequest(QUESTION)))
    (found,) = [event for event in events if isinstance(event, SearchResultsEvent)]
    assert [r["title"] for r in found.results] == [
        "Page 0",
        "Page 1",
        "Page 2",
        "git-cherry-pick(1)",
    ]
    assert engine.queries[-1] == "git cherry-pick -x"  # asked after the user's words


def test_numbers_the_user_did_not_write_are_dropped_from_the_models_query() -> None:
    # The 1.5B model named "PEP 515" for data classes (PEP 557): a guessed number finds the
    # wrong page. Numbers the question holds stay, and so do the names around a guess.
    asked = "Which PEP introduced data classes?"
    assert without_guessed_numbers("PEP 515 dataclasses", asked) == "PEP dataclasses"
    assert without_guessed_numbers("sqlite3.connect(timeout=5)", "sqlite3 timeout") == (
        "sqlite3.connect(timeout)"
    )
    assert without_guessed_numbers("PEP 618 zip strict", "What did PEP 618 add?") == (
        "PEP 618 zip strict"
    )
