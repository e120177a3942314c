"""Answers a user can trust: no memory answer after a failed search, no runaway loops,
no unsupported sentences, time-sensitive questions searched.

The real tiny model (SmolLM2-135M on llama.cpp) runs over the Python docs on loopback where
the behaviour is the agent's, not the script's; a scripted backend plays a model that loops
or invents, which a real model does only by chance.
"""

from __future__ import annotations

import pytest

from agent.api import AskRequest
from agent.citations import check_citations
from agent.dialect import generic_decide_options
from agent.events import TokenEvent
from agent.grounding import ground
from agent.intent import decision_prior, is_time_sensitive
from agent.repetition import LoopGuard
from agent.support import question_words
from tests.support.media import draw_text
from tests.support.servers import free_port
from wiring import search_agent

QUERY = "functools lru_cache default maxsize"
CALL = (
    '<|function_start|>{"name": "googleWebSearch", "arguments": {"query": "'
    + QUERY
    + '"}}<|function_end|>'
)
LOOPING_LIST = (
    "1. The typed flag caches arguments of different types separately.\n"
    "2. For example f(3) and f(3.0) are cached apart.\n"
    "3. The default is typed=False.\n"
)
INVENTED = "The lru_cache decorator was designed by Guido van Rossum in a Dutch pub in 1989."


# --- a failed search --------------------------------------------------------------------


@pytest.fixture
def unreachable_search(docs_settings, tmp_path):
    """The docs settings with a search provider nobody listens on, and a model that searches."""
    return docs_settings.replace(
        data_dir=tmp_path / "data",
        search=f"searxng:http://127.0.0.1:{free_port()}",
        decide_bias=50.0,
    )


@pytest.mark.slow
def test_failed_search_says_so_and_does_not_answer_from_memory(unreachable_search):
    with search_agent(unreachable_search) as agent:
        result = agent.invoke(AskRequest("Which PEP introduced f-strings?"))
    assert result.ok and result.searched and result.sources == []
    assert result.answer.startswith('I searched for "')
    assert "the search failed" in result.answer
    assert "try again" in result.answer and "local:NAME" in result.answer
    assert "Unsourced" not in result.answer
    assert result.tokens["completion"] == 0  # the model wrote nothing


@pytest.mark.slow
def test_memory_answer_when_allowed_is_labelled(unreachable_search):
    with search_agent(unreachable_search) as agent:
        result = agent.invoke(AskRequest("Which PEP introduced f-strings?", memory_fallback=True))
    assert result.ok and result.searched and result.sources == [] and result.citations == []
    notice, _, rest = result.answer.partition("\n\n")
    assert "the search failed" in notice
    assert rest.startswith("Unsourced answer from the model's memory")
    assert len(rest) > len("Unsourced answer from the model's memory (") + 40
    assert result.tokens["completion"] > 0


def test_memory_setting_is_the_default_of_the_request(docs_settings, scripted_agent, tmp_path):
    settings = docs_settings.replace(
        data_dir=tmp_path / "data",
        search=f"searxng:http://127.0.0.1:{free_port()}",
        memory_fallback=True,
    )
    agent, model = scripted_agent(settings, [CALL, "It was PEP 498."])
    result = agent.invoke(AskRequest("Which PEP introduced f-strings?"))
    assert "Unsourced answer" in result.answer and result.answer.endswith("It was PEP 498.")
    agent, model = scripted_agent(settings, [CALL, "It was PEP 498."])
    result = agent.invoke(AskRequest("Which PEP introduced f-strings?", memory_fallback=False))
    assert "PEP 498" not in result.answer and len(model.calls) == 1


# --- time-sensitive questions -------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest Python release?",
        "What is the current price of bitcoin?",
        "Who won the match yesterday?",
        "What happened in tech news this week?",
        "Which Python version came out in 2026?",
    ],
)
def test_time_sensitive_questions_get_a_search_prior(question):
    assert is_time_sensitive(question, this_year=2026)
    assert decision_prior(question).kind == "time-sensitive"


@pytest.mark.parametrize(
    "question", ["What is the default maxsize of lru_cache?", "Which PEP introduced f-strings?"]
)
def test_timeless_questions_have_no_time_prior(question):
    assert not is_time_sensitive(question, this_year=2026)


@pytest.mark.parametrize(
    ("message", "searched"),
    [
        ("Hi! How are you today?", False),
        ("Write a short haiku about autumn leaves.", False),
        ("你好！今天过得怎么样？", False),
        ("Thanks, see you tomorrow!", False),
    ],
)
def test_a_recognised_kind_is_decided_by_rule_without_asking_the_model(
    offline_settings, scripted_agent, message, searched
):
    # The model would pick "search" (the scripted choice): the rule decides alone.
    search, _ = generic_decide_options()
    agent, model = scripted_agent(offline_settings, ["Fine, thanks."], "generic", [search])
    result = agent.invoke(AskRequest(message))
    assert result.ok and result.searched is searched and "by rule" in result.decision
    assert not [call for call in model.calls if call.options]  # no `choose` call was made


@pytest.mark.slow
def test_latest_python_release_searches_with_the_real_model(docs_settings, tmp_path):
    settings = docs_settings
    with search_agent(settings) as agent:
        result = agent.invoke(AskRequest("What is the latest Python release?"))
    assert result.ok and result.searched and result.queries
    assert "time-sensitive" in result.decision


# --- runaway generations -------------------------------------------------------------------


def test_a_looping_model_is_cut_while_streaming(offline_settings, scripted_agent):
    agent, _ = scripted_agent(offline_settings, [LOOPING_LIST * 30], dialect="generic")
    events = list(
        agent.stream(AskRequest("What does the typed flag of lru_cache do?", search=False))
    )
    result = events[-1].result
    streamed = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert result.ok and result.loop_cut
    assert result.answer == LOOPING_LIST.strip()
    assert len(streamed) < 4 * len(LOOPING_LIST)  # generation stopped, not replayed to the end


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (LOOPING_LIST * 3, LOOPING_LIST.strip()),
        ("It caches results. " + "the cache is full and " * 12, None),
        ("Yes. " + "very " * 40, "Yes. very"),
    ],
)
def test_loop_guard_cases(text, kept):
    guard = LoopGuard()
    for index in range(0, len(text), 7):  # arrives in small chunks, as it streams
        guard.feed(text[index : index + 7])
    assert guard.looped
    if kept is not None:
        assert guard.answer() == kept
    else:
        assert guard.answer().startswith("It caches results. the cache is full and")
        assert guard.answer().count("the cache is full") == 1


@pytest.mark.parametrize(
    "text",
    [
        "1. Use maxsize.\n2. Use typed.\n3. Use cache_clear.\n4. Use cache_info.\n",
        "The default maxsize is 128, and with typed=True f(3) and f(3.0) are cached apart.",
        "- one\n- two\n- one\n- two\n",  # short lines may repeat
    ],
)
def test_no_false_loop(text):
    guard = LoopGuard()
    guard.feed(text)
    assert not guard.looped and guard.answer() == text


# --- grounded text -----------------------------------------------------------------------------


def test_unsupported_sentence_is_removed_when_chosen(docs_settings, scripted_agent, tmp_path):
    settings = docs_settings.replace(grounding="remove")
    agent, _ = scripted_agent(settings, [CALL, f"The default maxsize is 128. {INVENTED}"])
    result = agent.invoke(AskRequest("What is the default maxsize of functools.lru_cache?"))
    assert result.searched and result.sources
    assert "128" in result.answer and "Guido" not in result.answer
    assert result.unsupported == [INVENTED.rstrip(".")]
    assert result.citations  # the kept sentence is attributed to its source


def test_unsupported_sentence_is_marked_by_default(docs_settings, scripted_agent, tmp_path):
    settings = docs_settings
    agent, _ = scripted_agent(settings, [CALL, f"The default maxsize is 128. {INVENTED}"])
    result = agent.invoke(AskRequest("What is the default maxsize of functools.lru_cache?"))
    assert "Guido" in result.answer
    assert result.answer.endswith("(not found in the sources)")


def test_an_answer_the_sources_dont_back_lists_them_but_cites_nothing(
    docs_settings, scripted_agent
):
    agent, _ = scripted_agent(docs_settings, [CALL, INVENTED])
    result = agent.invoke(AskRequest("What is the default maxsize of functools.lru_cache?"))
    assert result.answer.startswith("The sources I found don't say.") and result.sources
    assert "[1] " in result.answer and result.citations == []


def test_a_citation_of_release_notes_is_upheld_by_their_title(docs_settings, scripted_agent):
    """ "What's New In Python 3.10" states the version its entries leave out: the model's
    citation of it is checked against the title it read over the passage, not moved away."""
    query = "bisect key function What's New In Python 3.10"
    call = f'<|function_start|>{{"name": "googleWebSearch", "arguments": {{"query": "{query}"}}}}'
    sentence = "Since Python 3.10 the bisect functions accept a key function"
    shown: dict[str, str] = {}

    def cite_the_release_notes(messages):
        sources = messages[-1].content.split("[[citation:")[1:]
        for source in sources:
            number, _, text = source.partition("]]\n")
            title, _, passage = text.partition("\n")
            if "3.10" in title and "bisect" in passage:
                shown.update(number=number, passage=passage)
                return f"{sentence} [citation:{number}]."
        return "No release notes were shown."

    agent, _ = scripted_agent(docs_settings, [call + "<|function_end|>", cite_the_release_notes])
    result = agent.invoke(AskRequest("Since which Python version can bisect take a key function?"))
    assert shown and "3.10" not in shown["passage"]  # the version is in the title alone
    assert result.answer == f"{sentence} [{shown['number']}]."
    assert [check["verdict"] for check in result.citation_checks] == ["supported"]


def test_numbers_are_compared_as_numbers():
    grounded = ground(
        "By default, timeit executes the statement 1,000,000 times.",
        ["timeit.timeit(stmt='pass', number=1000000): run the statement number executions."],
        ["timeit — Measure execution time of small code snippets"],
        mode="remove",
        threshold=0.5,
    )
    assert grounded.unsupported == []
    assert grounded.answer == "By default, timeit executes the statement 1,000,000 times [1]."
    spelt = ground(
        "The default number of times through the loop is 1 million.",
        ["timeit.timeit(number=1000000): the number of times through the loop."],
        ["timeit"],
        mode="remove",
        threshold=0.5,
    )
    assert spelt.unsupported == [] and spelt.answer.endswith("1 million [1].")


def test_nothing_supported_says_the_sources_dont_say():
    grounded = ground(
        INVENTED,
        ["lru_cache(maxsize=128, typed=False): decorator to wrap a function."],
        ["functools — Higher-order functions"],
        mode="remove",
        threshold=0.5,
    )
    assert grounded.nothing_supported
    assert grounded.answer.startswith("The sources I found don't say.")
    assert "[1] functools — Higher-order functions" in grounded.answer


SQLITE_PAGES = [
    "sqlite3.connect(database, timeout=5.0): how many seconds to wait for a locked database.",
    "PEP 249 describes the database API; see the source code provided with the module.",
]


@pytest.mark.parametrize("mode", ["remove", "mark"])
def test_sentences_that_only_point_at_sources_are_dropped(mode):
    grounded = ground(
        "The default timeout of sqlite3.connect is 5.0 seconds [1]. "
        "This can be seen in the source code provided in [2]. "
        "This timeout is described in [2].",
        SQLITE_PAGES,
        ["sqlite3", "PEP 249"],
        mode=mode,
        threshold=0.5,
    )
    assert grounded.answer == "The default timeout of sqlite3.connect is 5.0 seconds [1]."
    assert grounded.pointers == [
        "This can be seen in the source code provided in",
        "This timeout is described in",
    ]


def test_a_sentence_with_something_new_or_a_lone_pointer_is_kept():
    kept = ground(
        "The default timeout of sqlite3.connect is 5.0 seconds [1]. "
        "It is how many seconds to wait for a locked database, as the source says [1].",
        SQLITE_PAGES,
        ["sqlite3", "PEP 249"],
        mode="remove",
        threshold=0.5,
    )
    assert kept.pointers == [] and "locked database" in kept.answer
    # Nothing said before it: a pointer alone is the whole answer and is judged as a claim.
    alone = ground(
        "See the source code provided [2].", SQLITE_PAGES, ["a", "b"], mode="mark", threshold=0.5
    )
    assert alone.pointers == [] and alone.answer.startswith("See the source code provided [2]")


UNICODE_PAGE = "unicodedata: this module uses data from the Unicode Character Database 14.0.0."
UNICODE_QUESTION = "Which Unicode database version is Python 3.11's unicodedata compiled from?"


def test_words_of_the_question_need_no_source_but_what_the_answer_adds_does():
    given = question_words(UNICODE_QUESTION)
    answer = "In Python 3.11, unicodedata is compiled from Unicode database version 14.0.0."
    # The page does not repeat "3.11" or "compiled": without the question they sink the score.
    alone = ground(answer, [UNICODE_PAGE], ["unicodedata"], mode="mark", threshold=0.5)
    assert alone.nothing_supported
    grounded = ground(
        answer, [UNICODE_PAGE], ["unicodedata"], mode="mark", threshold=0.5, given=given
    )
    assert grounded.unsupported == [] and grounded.answer.endswith("14.0.0 [1].")
    invented = ground(
        "In Python 3.11, unicodedata is compiled from Unicode database version 13.0.0.",
        [UNICODE_PAGE],
        ["unicodedata"],
        mode="mark",
        threshold=0.5,
        given=given,
    )
    assert invented.nothing_supported  # the one thing it adds, 13.0.0, is not in the source
    report = check_citations(answer + " [1]", [UNICODE_PAGE], given=given)
    assert report.citations == [1] and report.checks[0].verdict == "supported"


# --- image questions ---------------------------------------------------------------------------


def test_image_question_searches_for_what_the_image_says(
    docs_settings,
    scripted_agent,
    tmp_path,
):
    image = tmp_path / "signature.png"
    draw_text(("textwrap.wrap(text, width=70)",), size=(1100, 120), font_size=48).save(image)
    settings = docs_settings
    search, answer = generic_decide_options()  # the question searches, the null does not
    agent, _ = scripted_agent(
        settings, ["The default width is 70."], dialect="generic", choices=[search, answer]
    )
    result = agent.invoke(AskRequest("What is the default value of this argument?", image=image))
    assert result.searched and result.image_text
    query = result.queries[0].lower()
    assert "textwrap" in query and "default" in query
    for framing in ("attached", "png", "pixels", "image"):
        assert framing not in query
    assert any(s["url"].endswith("library/textwrap.html") for s in result.sources)
