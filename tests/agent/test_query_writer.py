"""Search-query safeguards (agent/query_writer.py) and the decision prior (agent/intent.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.intent import decision_prior
from agent.query_writer import (
    build_query,
    clean_query,
    exchange_subject,
    follow_up_context,
    is_name,
    rank_query,
)
from retrieval.clean import clean_document
from retrieval.policy import RankPolicy
from retrieval.rank import rank_passages
from retrieval.types import Page

GIT_DOCS = Path("/usr/share/doc/git-doc")


def test_model_query_is_kept_when_usable():
    assert build_query("What is lru_cache's default size?", "lru_cache default maxsize") == (
        "lru_cache default maxsize"
    )


@pytest.mark.parametrize(
    "proposed",
    ["", "   ", None, "Sure! Let me look that up for you.", "?!", "a " * 40, "<|turn_end|>"],
)
def test_unusable_model_query_falls_back_to_keywords(proposed):
    query = build_query("What is the default maxsize of functools.lru_cache?", proposed)
    assert query == "default maxsize functools.lru_cache"


def test_query_is_one_short_line():
    query = build_query(
        "q", 'functools\n"lru_cache"\\n default {maxsize} ' + "word " * 10, max_words=8
    )
    assert "\n" not in query and '"' not in query and "{" not in query
    assert query.startswith("functools lru_cache default maxsize")
    assert len(query.split()) <= 8
    assert clean_query("<|function_start|>x<|function_end|>") == "x"


def test_follow_up_carries_the_subject_of_earlier_turns():
    earlier = ["What does Python's functools module provide?"]
    query = build_query("What is the default cache size of its lru_cache decorator?", None, earlier)
    assert "functools" in query and "lru_cache" in query
    query = build_query("How tall is it?", None, ["When was the Eiffel Tower built?"])
    assert "Eiffel" in query and "Tower" in query and "tall" in query


def test_follow_up_carries_code_names_from_the_earlier_question_and_answer():
    # dev-50: "the other parameter" shares "default" with the first question, yet names
    # nothing; the earlier turn's code name is the subject.
    query = build_query(
        "And what's the default for the other parameter, the similarity threshold?",
        None,
        ["How many matches does difflib.get_close_matches return by default?"],
        12,
        ["At most three: its n parameter defaults to 3."],
    )
    assert "difflib.get_close_matches" in query and "similarity" in query
    # dev-54: the answer named the method the follow-up asks about.
    query = build_query(
        "What's the biggest denominator it allows if I call it without an argument?",
        None,
        ["How can I turn 3.14159 into a simple fraction in Python?"],
        12,
        ["Use fractions.Fraction(3.14159).limit_denominator(); it bounds the denominator."],
    )
    assert "limit_denominator" in query and "fractions.Fraction" in query


def test_follow_up_carries_the_name_the_earlier_answer_introduced():
    # The subject of the first turn is in its answer, in plain words, not code formatting:
    # the question said "Unicode character names", the answer named the module.
    query = build_query(
        "Which version of that database is it compiled from?",
        None,
        ["Is there a standard module for looking up Unicode character names?"],
        12,
        ["Yes, the unicodedata module gives access to the Unicode Character Database."],
    )
    assert "unicodedata" in query
    # A subject the query already has is not added twice ("default" of both turns).
    query = build_query(
        "And what's the default for the other parameter?",
        None,
        ["How many matches does difflib.get_close_matches return by default?"],
        12,
        ["At most three: its n parameter defaults to 3."],
    )
    assert query.split().count("default") == 1 and "difflib.get_close_matches" in query


def test_an_exchanges_subject_is_its_most_used_word_names_first():
    question = "How can I set aside my uncommitted changes to switch branches?"
    answer = (
        "Use git stash: it saves your changes as a stash entry; git stash pop brings them back."
    )
    assert exchange_subject(question, answer) == "stash"  # three uses, one more as a name
    # Two uses each: the name wins the tie ("git"), then the first seen ("changes").
    assert exchange_subject("Where are my changes?", "git keeps changes; git stores them.") == "git"
    assert exchange_subject("Which changes?", "Changes and edits: edits.") == "changes"
    assert exchange_subject("", "") is None
    assert is_name("lighttpd") and is_name("worktree") and is_name("Mersenne")
    assert not is_name("folders") and not is_name("3.11") and not is_name("n")
    assert not is_name("模块")


def test_standalone_question_is_not_padded_with_old_topics():
    earlier = ["Tell me about Python's sqlite3 module."]
    query = build_query("What is the default width used by pprint.pprint?", None, earlier)
    assert "sqlite3" not in query


def test_a_follow_up_is_searched_with_the_turn_it_follows():
    earlier = ["Which web server does git instaweb start?", "Is git a VCS?"]
    answers = ["It uses lighttpd.", "Yes: git worktree add gives one folder per branch."]
    context = follow_up_context("And which port does it listen on?", earlier[:1], answers[:1])
    assert context == "Which web server does git instaweb start? It uses lighttpd."
    # The last turn only, its answer included: the subject the follow-up leans on.
    assert "worktree" in follow_up_context("Can I lock those?", earlier, answers)
    assert follow_up_context("How do I rebase a stack of branches onto main?", earlier) == ""
    assert follow_up_context("And which port?", []) == ""


def test_model_query_that_names_the_subject_is_left_alone():
    earlier = ["Tell me about Python's sqlite3 module."]
    query = build_query("How long does it wait?", "sqlite3 connect timeout", earlier)
    assert query == "sqlite3 connect timeout"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Hi! How are you today?", "chit-chat"),
        ("thanks a lot!", "chit-chat"),
        ("What is 12 times 12?", "arithmetic"),
        ("2 + 2 * 3", "arithmetic"),
        ("Translate 'good morning' into French", "translation"),
        ("Write a short haiku about autumn leaves.", "creative"),
        ("What is the default maxsize of functools.lru_cache?", "none"),
        ("Hi, what does str.translate do?", "none"),
        ("Which PEP introduced data classes in 3.7?", "none"),
    ],
)
def test_decision_prior_kinds(message, kind):
    prior = decision_prior(message)
    assert prior.kind == kind
    assert (prior.value < 0) == (kind != "none")


def _git_page(name: str) -> Page:
    path = GIT_DOCS / name
    if not path.exists():
        pytest.skip(f"{path} is not installed (Debian package git-doc)")
    url = f"http://docs.test/{name}"
    document = clean_document(path.read_bytes(), "text/html", url)
    return Page(url, url, document.title, document.text, "text/html")


def test_passages_are_ranked_by_the_words_the_search_query_had_to_cut():
    question = (
        "The manual for git whatchanged points new users to a different command. Which option "
        "of that recommended command adds a line giving the length of each commit message in "
        "bytes?"
    )
    query = build_query(question, None)  # cut at 12 words for the search engine
    assert "bytes" not in query
    ranked_by = rank_query(query, question, 12)
    assert ranked_by.startswith(query) and "length" in ranked_by and "bytes" in ranked_by
    assert len(ranked_by.split()) == len({w.lower() for w in ranked_by.split()})
    pages = [_git_page("git-whatchanged.html"), _git_page("git-log.html")]
    policy = RankPolicy(context_tokens=300, passages_per_source=3, rerank=False, spans=True)

    def shown(by: str) -> str:
        return "\n".join(passage.text for passage in rank_passages(by, pages, policy))

    assert "--log-size" in shown(ranked_by)
    assert "--log-size" not in shown(query)


def test_a_translated_query_is_ranked_with_the_questions_own_words_too():
    assert rank_query("decimal default precision", "decimal 默认精度是多少？", 12) == (
        "decimal default precision 默认精度是多少"
    )


def test_a_query_under_the_limit_ranks_passages_as_written():
    # The words a model's query left out do not pass passages it never searched for.
    assert rank_query("qwxzvb plorftangle", "What colour is a qwxzvb plorftangle?", 12) == (
        "qwxzvb plorftangle"
    )
