"""Finding pages when the user's words are not the docs': query variants fused by rank, clean
titles, signatures kept with their descriptions. The fused search runs on the real `local:`
index of the Python docs."""

from __future__ import annotations

import pytest

from retrieval.multiquery import (
    MAX_CONTEXT_QUERY_WORDS,
    fuse,
    identifier_variant,
    query_variants,
    search_fused,
    spell_out,
)
from retrieval.passages import split_passages
from retrieval.search import make_search_provider
from retrieval.titles import clean_title, site_suffix
from retrieval.types import Page, SearchResult
from wiring import retrieval_policy


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        ("bit_count", "bit count"),
        ("getLogger", "get Logger"),
        ("textwrap.wrap", "textwrap wrap"),
        ("functools.lru_cache", "functools lru cache"),
    ],
)
def test_identifiers_are_spelt_out(identifier, words):
    assert spell_out(identifier) == words


def test_variants_are_distinct_and_the_models_query_first():
    variants = query_variants(
        "lru_cache typed", "What does the typed flag of functools.lru_cache do?", 3
    )
    assert variants[0] == "lru_cache typed"
    assert len(variants) == len({v.lower() for v in variants}) == 3
    assert identifier_variant("plain words only") is None
    assert query_variants("lru_cache maxsize", "lru_cache maxsize", 3) == [
        "lru_cache maxsize",
        "lru cache maxsize",
    ]


def test_a_follow_ups_own_words_are_searched_with_the_turn_it_follows():
    context = "Which web server does git instaweb start? It uses lighttpd."
    variants = query_variants("port listen", "And which port does it listen on?", 3, context)
    assert variants[1] == "port listen web server git instaweb start uses lighttpd"
    long_answer = " ".join(f"word{n}" for n in range(500))
    variants = query_variants("port listen", "And which port?", 3, f"git instaweb {long_answer}")
    assert variants[1].split()[:3] == ["port", "git", "instaweb"]
    assert len(variants[1].split()) == MAX_CONTEXT_QUERY_WORDS


def test_rank_fusion_prefers_pages_several_queries_find():
    a, b, c = (SearchResult(f"http://x/{n}", n, "", 0) for n in "abc")
    fused = fuse([[a, b], [c, b], [b]], limit=2)
    assert [r.url for r in fused] == ["http://x/b", "http://x/a"]
    assert [r.rank for r in fused] == [1, 2]


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        (
            (
                "functools — Higher-order functions and operations on callable objects — "
                "Python 3.11.2 documentation"
            ),
            "functools — Higher-order functions and operations on callable objects",
        ),
        ("What’s New In Python 3.11 — Python 3.11.2 documentation", "What’s New In Python 3.11"),
        (
            "PEP 498 – Literal String Interpolation | peps.python.org",
            "PEP 498 – Literal String Interpolation",
        ),
        ("re — Regular expression operations", "re — Regular expression operations"),
        ("Python 3.11.2 documentation", "Python 3.11.2 documentation"),
    ],
)
def test_titles_lose_the_site_suffix(title, clean):
    assert clean_title(title) == clean


def test_the_dropped_suffix_names_the_site() -> None:
    """What `clean_title` drops is the site's name the source cards show."""
    assert site_suffix("functools — Higher-order — Python 3.13 documentation") == (
        "Python 3.13 documentation"
    )
    assert site_suffix("PEP 498 – Literal String Interpolation | peps.python.org") == (
        "peps.python.org"
    )
    assert site_suffix("re — Regular expression operations") == ""
    assert site_suffix("Python 3.11.2 documentation") == ""


def test_a_signature_stays_with_its_description():
    signature = (
        "textwrap.wrap(text, width=70, " + ", ".join(f"opt{n}=None" for n in range(60)) + ")"
    )
    description = "- Wraps the single paragraph in text so every line is at most width long."
    filler = "\n".join(f"Line {n} of an unrelated list of things to say here." for n in range(20))
    page = Page(
        "http://x/t", "http://x/t", "t", f"{filler}\n- \n{signature}\n{description}", "text/html"
    )
    texts = [p.text for p in split_passages(page)]
    holder = [t for t in texts if "width=70" in t]
    assert holder and "Wraps the single paragraph" in holder[0]


@pytest.mark.slow
def test_fused_search_finds_the_page_on_the_docs_index(docs_index):
    settings, name = docs_index
    provider = make_search_provider(f"local:{name}", retrieval_policy(settings).search)
    question = "What does the typed flag of functools.lru_cache do?"
    outcome = search_fused(provider, query_variants("lru_cache typed", question, 3), 5)
    assert outcome.provider == f"local:{name}" and not outcome.failures
    assert any(r.url.endswith("library/functools.html") for r in outcome.results)
    assert len(outcome.results) <= 5


def test_a_follow_up_finds_its_subjects_page_first_on_the_docs_index(docs_index):
    settings, name = docs_index
    provider = make_search_provider(f"local:{name}", retrieval_policy(settings).search)
    question = "What is the period of that generator?"
    context = (
        "Which pseudo-random generator does Python's random module use under the hood? "
        "It uses the Mersenne Twister as its core generator."
    )

    def pages(variants: list[str]) -> list[str]:
        return [r.url.rsplit("/", 1)[-1] for r in search_fused(provider, variants, 5).results]

    alone = pages(query_variants("period generator", question, 3))
    followed = pages(query_variants("period generator", question, 3, context))
    # Its own words ("period", "generator") find generator pages of every kind; the turn
    # it follows names the module.
    assert followed[0] == "random.html"
    assert alone[0] != "random.html"
