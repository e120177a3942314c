"""The support check catches wrong readings of the cited passage, in English and across
languages (agent/claims.py via citations.support_score and grounding.ground)."""

from __future__ import annotations

import pytest

from agent.citations import check_citations
from agent.grounding import ground
from agent.support import question_words, supporting_span

FUNCTOOLS = (
    "@functools.lru_cache(maxsize=128, typed=False) Decorator to wrap a function with a "
    "memoizing callable that saves up to the maxsize most recent calls. If maxsize is set "
    "to None, the LRU feature is disabled and the cache can grow without bound. "
    "If typed is set to true, function arguments of different types will be cached "
    "separately. If typed is false, the implementation will usually regard them as "
    "equivalent calls and only cache a single result."
)
TITLES = ["functools — Higher-order functions"]

FAITHFUL = [
    "The default maxsize of lru_cache is 128 [1].",
    "When maxsize is set to None, the cache is unbounded and the LRU feature is disabled [1].",
    "If maxsize is None, the cache can grow without limit [1].",
    "With typed=True, arguments of different types are cached separately [1].",
    "functools.lru_cache 的 maxsize 默认是 128 [1]。",
    "maxsize 默认是一百二十八 [1]。",
    "如果 maxsize 设为 None，缓存可以无限增长 [1]。",
    "如果 typed 为 True，不同类型的参数会被分别缓存 [1]。",
]
CONTRADICTING = [
    # a wrong number, a number read off the wrong thing
    "The default maxsize of lru_cache is 256 [1].",
    "The maximum size is 128 [1].",
    # a negated condition, a negated statement
    "If maxsize is not None, the LRU feature is disabled [1].",
    "If maxsize is set to None, the cache cannot grow [1].",
    "Unless maxsize is None, the LRU feature is disabled [1].",
    # an inverted flag, an inverted outcome
    "If typed is set to false, arguments of different types are cached separately [1].",
    "With typed=True, arguments of different types are cached together [1].",
    # a Chinese sentence over the English passage, with a wrong number
    "functools.lru_cache 的 maxsize 默认是 64 [1]。",
    "maxsize 默认是二百五十六 [1]。",
    "如果 maxsize 不是 None，LRU 功能会被禁用 [1]。",
]


@pytest.mark.parametrize("sentence", FAITHFUL)
def test_a_faithful_sentence_is_not_marked(sentence):
    report = check_citations(sentence, [FUNCTOOLS])
    assert [check.verdict for check in report.checks] == ["supported"]
    grounded = ground(report.answer, [FUNCTOOLS], TITLES, mode="mark", threshold=0.5)
    assert grounded.unsupported == [] and "[1]" in grounded.answer


@pytest.mark.parametrize("sentence", CONTRADICTING)
def test_a_sentence_that_contradicts_its_passage_is_marked(sentence):
    report = check_citations(sentence, [FUNCTOOLS])
    assert [check.verdict for check in report.checks] == ["removed_unsupported"]
    grounded = ground(
        "The default maxsize of lru_cache is 128 [1]. " + report.answer,
        [FUNCTOOLS],
        TITLES,
        mode="mark",
        threshold=0.5,
    )
    assert len(grounded.unsupported) == 1 and "[1]" not in grounded.unsupported[0]
    assert grounded.answer.count("[1]") == 1


def test_a_number_from_the_question_needs_no_source():
    given = question_words("If I cache 300 results with maxsize=None, what happens?")
    report = check_citations(
        "With 300 results and maxsize set to None, the cache can grow without bound [1].",
        [FUNCTOOLS],
        given=given,
    )
    assert [check.verdict for check in report.checks] == ["supported"]


def test_a_chinese_sentence_without_names_or_numbers_is_left_alone():
    # Nothing carries over to check it by: neither marked nor given a citation it lacks.
    grounded = ground("这是一个很有用的装饰器。", [FUNCTOOLS], TITLES, mode="mark", threshold=0.5)
    assert grounded.unsupported == [] and grounded.answer == "这是一个很有用的装饰器。"


TEXTWRAP = (
    "The textwrap module provides some convenience functions, as well as TextWrapper, the "
    "class that does all the work. textwrap.wrap(text, width=70, *, initial_indent='', "
    "subsequent_indent='', expand_tabs=True, replace_whitespace=True, "
    "fix_sentence_endings=False, break_long_words=True, drop_whitespace=True, "
    "break_on_hyphens=True, tabsize=8, max_lines=None, placeholder=' [...]') Wraps the single "
    "paragraph in text so every line is at most width characters long."
)


def test_a_number_is_placed_by_the_question_words_too():
    # dev-02: "70" stands beside "width" and "textwrap.wrap", the question's words, not
    # beside "line" or "characters"; the answer is right and must keep its citation.
    given = question_words("What line width does textwrap.wrap use by default?")
    report = check_citations(
        "The default line width for textwrap.wrap is 70 characters [1].", [TEXTWRAP], given=given
    )
    assert [check.verdict for check in report.checks] == ["supported"]


INT_DOCS = (  # the passage of the dev-set run, as the model read it
    "Return an integer object constructed from a number or string x, or return 0 if no "
    "arguments are given. If x defines __int__(), int(x) returns x.__int__(). If x defines "
    "__index__(), it returns x.__index__(). If x defines __trunc__(), it returns x.__trunc__(). "
    "For floating point numbers, this truncates towards zero. If x is not a number or if base "
    "is given, then x must be a string, bytes, or bytearray instance representing an integer in "
    "radix base. Optionally, the string can be preceded by + or - (with no space in between), "
    "have leading zeros, be surrounded by whitespace, and have single underscores interspersed "
    "between digits. A base-n integer string contains digits, each representing a value from 0 "
    "to n-1. The values 0–9 can be represented by any Unicode decimal digit. The values 10–35 "
    "can be represented by a to z (or A to Z). The default base is 10. The allowed bases are 0 "
    "and 2–36."
)
GETPASS_DOCS = (
    "getpass.getpass(prompt='Password: ', stream=None) Prompt the user for a password without "
    "echoing. The user is prompted using the string prompt, which defaults to 'Password: '."
)


@pytest.mark.parametrize(
    ("question", "answer", "passage"),
    [
        # dev-40: the question's "number" is not contradicted by "if x is not a number".
        (
            "What is the largest number base that int() accepts when parsing a string?",
            "The largest number base that `int()` accepts when parsing a string is 36 [1].",
            INT_DOCS,
        ),
        # dev-43: the answer repeats the question's own "don't".
        (
            "What prompt text does getpass.getpass() show if you don't pass one?",
            (
                "The prompt text shown by `getpass.getpass()` if you don't pass one is "
                "'Password: ' [1]."
            ),
            GETPASS_DOCS,
        ),
    ],
)
def test_the_question_own_words_and_negations_are_not_contradictions(question, answer, passage):
    """Both right answers were turned into "the sources don't say" in the dev-set run."""
    report = check_citations(answer, [passage], given=question_words(question))
    assert [check.verdict for check in report.checks] == ["supported"]


LEVELS_INTRO = (
    "The numeric values of logging levels are given in the following table. These are "
    "primarily of interest if you want to define your own levels, and need them to have "
    "specific values relative to the predefined levels. If you define a level with the same "
    "numeric value, it overwrites the predefined value; the predefined name is lost.\n\n"
)
LEVEL_ROWS = [
    ("NOTSET", 0, "When set on a logger, indicates that ancestor loggers are to be consulted."),
    ("DEBUG", 10, "Detailed information, typically only of interest to a developer."),
    ("INFO", 20, "Confirmation that things are working as expected."),
    ("WARNING", 30, "An indication that something unexpected happened."),
    ("ERROR", 40, "Due to a more serious problem, the software could not perform some function."),
    ("CRITICAL", 50, "A serious error: the program itself may be unable to continue running."),
]


def _levels_table(prefix: str) -> str:
    rows = "\n".join(f"{prefix}{name} | {value} | {meaning}" for name, value, meaning in LEVEL_ROWS)
    return f"{LEVELS_INTRO}Level | Numeric value | What it means\n{rows}"


def test_a_number_is_placed_by_a_part_of_a_dotted_name():
    # dev-zh-38: the row "logging.CRITICAL | 50" places 50 by the question's "logging".
    question = "标准 logging 里最严重的日志级别对应的数值是多少？"
    answer = "标准 logging 模块中最严重的日志级别对应的数值是 50 [1]。"
    report = check_citations(answer, [_levels_table("logging.")], given=question_words(question))
    assert [check.verdict for check in report.checks] == ["supported"]
    wrong = check_citations(
        answer.replace("50", "60"), [_levels_table("logging.")], given=question_words(question)
    )
    assert [check.verdict for check in wrong.checks] != ["supported"]


def test_a_translated_question_places_numbers_by_its_searched_words():
    # A Chinese sentence cannot carry "critical"; the query searched for it in English can.
    from agent.translation import asked_words

    question = "logging 里最严重的级别对应的数值是多少？"
    answer = "logging 里最严重的级别对应的数值是 50 [1]。"
    table = _levels_table("")
    own = check_citations(answer, [table], given=question_words(question))
    assert [check.verdict for check in own.checks] != ["supported"]
    given = asked_words(question, [question, "logging critical level numeric value"])
    searched = check_citations(answer, [table], given=given)
    assert [check.verdict for check in searched.checks] == ["supported"]


@pytest.mark.parametrize(
    ("sentence", "span"),
    [
        ("If maxsize is None, the cache can grow without limit.", "If maxsize is set to None"),
        ("With typed=True, arguments of different types are cached separately.", "If typed is set"),
        ("如果 typed 为 True，不同类型的参数会被分别缓存。", "If typed is set to true"),
    ],
)
def test_the_span_shown_for_a_citation_is_the_passage_sentence_that_supports_it(sentence, span):
    assert supporting_span(sentence, FUNCTOOLS).startswith(span)


def test_no_span_is_shown_for_a_sentence_the_passage_does_not_support():
    assert supporting_span("The default maxsize of lru_cache is 256.", FUNCTOOLS) == ""
    assert supporting_span("Paris is the capital of France.", FUNCTOOLS) == ""


def test_each_cited_sentence_comes_with_the_sentence_of_its_source_that_backs_it():
    """The API's and `ask --json`'s `claims` (`AskResult.claims`): per citation of the
    answer, the passage's supporting sentence, as the UI's preview highlights it."""
    from agent.result import AskResult

    toaster = "The toaster browns two slices of bread at a time."
    answer = (
        "The default maxsize of lru_cache is 128 [2]. Toasters brown bread [1][2].\n"
        "```python\nx = cache[1]\n```\nThe sources do not say more [7]."
    )
    result = AskResult(
        answer=answer, thread_id="t", citations=[1, 2], passages=[toaster, FUNCTOOLS]
    )
    claims = result.to_json()["claims"]
    assert [(c["sentence"], c["source"]) for c in claims] == [
        ("The default maxsize of lru_cache is 128", 2),
        ("Toasters brown bread", 1),
        ("Toasters brown bread", 2),
    ]  # the code's `[1]` is an index, `[7]` names no source
    assert claims[0]["quote"].startswith("@functools.lru_cache(maxsize=128")
    assert claims[1]["quote"] == toaster and claims[2]["quote"] == ""
    # "The sources don't say" lists the sources by number: its numbers back no claim.
    assert AskResult(answer="[1] functools", thread_id="t", passages=[FUNCTOOLS]).claims == []


def test_the_quote_of_a_release_note_is_read_under_its_title_as_the_checker_reads_it():
    """The checker backs "since 3.10" by the release notes' title; the claim's quote (the
    UI's highlight) is the entry it came with, not nothing."""
    from agent.result import AskResult

    entry = "Added the possibility of providing a key function to the APIs in the bisect module."
    answer = "Since Python 3.10 the bisect functions take a key function [1]."
    result = AskResult(
        answer=answer,
        thread_id="t",
        citations=[1],
        passages=[entry],
        sources=[{"n": 1, "url": "http://docs/3.10.html", "title": "What’s New In Python 3.10"}],
    )
    assert [claim["quote"] for claim in result.claims] == [entry]
    assert supporting_span(answer, entry) == ""  # without the title, the version is nowhere


def test_a_marker_inside_its_sentence_stays_there_through_the_support_check() -> None:
    """The support check rebuilt each sentence from its words and put every marker at the
    end, undoing the citation check's "According to [1], …" (dev-31)."""
    answer = "According to [1], the maxsize of lru_cache defaults to 128."
    report = check_citations(answer, [FUNCTOOLS])
    grounded = ground(report.answer, [FUNCTOOLS], TITLES, mode="mark", threshold=0.5)
    assert grounded.answer == answer and grounded.unsupported == []


BUNDLE = (
    "A v2 bundle looks like this:\n\n"
    "bundle    = signature *prerequisite *reference LF pack\n"
    'signature = "# v2 git bundle" LF'
)


def test_a_literal_quoted_word_for_word_from_the_passage_backs_its_sentence() -> None:
    # The question's words ("git", "bundle") are what the quoted answer is made of.
    given = question_words("What signature line does a version 2 git bundle file begin with?")
    quoted = (
        'The signature line of a version 2 git bundle file begins with "# v2 git bundle" '
        "followed by a newline character [1]."
    )
    report = check_citations(quoted, [BUNDLE], given=given)
    assert [check.verdict for check in report.checks] == ["supported"]
    misquoted = quoted.replace("v2", "v3")
    report = check_citations(misquoted, [BUNDLE], given=given)
    assert [check.verdict for check in report.checks] == ["removed_unsupported"]


def test_a_literal_the_question_quoted_backs_nothing_the_answer_adds() -> None:
    given = question_words('What does the "# v2 git bundle" line of a bundle tell me?')
    wrong = 'The "# v2 git bundle" line marks a corrupted bundle [1].'
    report = check_citations(wrong, [BUNDLE], given=given)
    assert [check.verdict for check in report.checks] == ["removed_unsupported"]


CREDENTIAL_CACHE = (
    "This command caches credentials in memory for use by future Git programs. "
    "- --timeout <seconds> - Number of seconds to cache credentials (default: 900)."
)


@pytest.mark.parametrize(
    ("sentence", "verdict"),
    [
        (
            "The cache remembers a password for 900 seconds (15 minutes) by default [1].",
            "supported",
        ),
        ("凭据缓存默认记住密码 900 秒（15 分钟）[1]。", "supported"),
        (
            "The cache remembers a password for 900 seconds (16 minutes) by default [1].",
            "removed_unsupported",
        ),
        ("The cache remembers a password for 15 minutes by default [1].", "removed_unsupported"),
        (
            "The cache remembers a password for 600 seconds (10 minutes) by default [1].",
            "removed_unsupported",
        ),
    ],
)
def test_a_number_restated_in_another_unit_stands_with_the_one_it_restates(sentence, verdict):
    # The restatement is carried by the passage's own number; alone, or beside a wrong one,
    # it backs nothing.
    report = check_citations(sentence, [CREDENTIAL_CACHE])
    assert [check.verdict for check in report.checks] == [verdict]


ASYNCIO_DEBUG = (
    "- Callbacks taking longer than 100 milliseconds are logged. The "
    "`loop.slow_callback_duration` attribute can be used to set the minimum execution "
    "duration in seconds that is considered \u201cslow\u201d."
)


@pytest.mark.parametrize(
    ("sentence", "verdict"),
    [
        ("The slow callback duration defaults to 0.1 seconds [1].", "supported"),
        ("The slow callback duration defaults to 100 ms [1].", "supported"),
        ("The slow callback duration defaults to 0.2 seconds [1].", "removed_unsupported"),
        ("The slow callback duration defaults to 0.1 minutes [1].", "removed_unsupported"),
    ],
)
def test_a_quantity_in_another_unit_than_the_passages_is_read_as_the_passages(sentence, verdict):
    report = check_citations(sentence, [ASYNCIO_DEBUG])
    assert [check.verdict for check in report.checks] == [verdict]
