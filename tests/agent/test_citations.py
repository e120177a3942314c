"""Citation normalising, checking and repair (agent/citations.py)."""

from __future__ import annotations

from agent.citation_marks import (
    CitationStreamNormalizer,
    cited_numbers,
    normalize_citations,
    strip_citations,
)
from agent.citations import check_citations, split_sentences
from agent.support import as_read, question_words, support_score, title_facts

FUNCTOOLS = (
    "@functools.lru_cache(maxsize=128, typed=False) Decorator to wrap a function with a "
    "memoizing callable that saves up to the maxsize most recent calls. If maxsize is set "
    "to None, the LRU feature is disabled and the cache can grow without bound."
)
TEXTWRAP = "textwrap.wrap(text, width=70) wraps the single paragraph in text so every line "
"is at most width characters long."
CONTEXTS = [FUNCTOOLS, TEXTWRAP]


def test_forms_normalise_to_one():
    text = "A [citation:1]. B [ citation: 2 ][citation:1]. C [1, 2]. D [2]."
    assert normalize_citations(text) == "A [1]. B [2][1]. C [1][2]. D [2]."
    assert cited_numbers(text) == [1, 2]


def test_code_indexing_is_not_a_citation():
    text = "Use `cache[1]` or items[0] to read it [2].\n```python\nf(*[10])\n```\n"
    assert cited_numbers(text) == [2]
    assert normalize_citations(text) == text
    report = check_citations(text, ["use cache[1] or items[0] to read"] * 2)
    assert report.citations == [2] and "f(*[10])" in report.answer


def test_stream_normaliser_matches_whole_text():
    pieces = ["The size is 12", "8 [cit", "ation:", "1]", ". Next [", "2", "] end", " ["]
    normaliser = CitationStreamNormalizer()
    streamed = "".join(normaliser.feed(p) for p in pieces) + normaliser.flush()
    assert streamed == normalize_citations("".join(pieces))
    assert "[1]" in streamed and "citation" not in streamed


def test_out_of_range_number_is_removed_and_sentence_reattributed():
    report = check_citations("The default maxsize of lru_cache is 128 [7].", CONTEXTS)
    assert "[7]" not in report.answer
    assert report.answer == "The default maxsize of lru_cache is 128 [1]."
    verdicts = [c.verdict for c in report.checks]
    assert verdicts == ["removed_out_of_range", "attributed"]
    assert report.precision == 0.0


def test_unsupported_citation_moves_to_the_supporting_passage():
    answer = "textwrap.wrap uses a width of 70 characters [1]."
    report = check_citations(answer, CONTEXTS)
    assert report.answer == "textwrap.wrap uses a width of 70 characters [2]."
    assert report.citations == [2]
    assert report.checks[0].verdict == "moved" and report.checks[0].cited == 1
    assert report.precision == 0.0


def test_citation_nothing_supports_is_removed():
    answer = "The Eiffel Tower is 330 metres tall [1]."
    report = check_citations(answer, CONTEXTS)
    assert report.answer == "The Eiffel Tower is 330 metres tall."
    assert report.citations == []
    assert report.checks[0].verdict == "removed_unsupported"


def test_wrong_number_is_not_supported_by_many_shared_words():
    # Same words as the source, wrong fact: the number decides.
    assert support_score("The default maxsize of functools.lru_cache is 32.", FUNCTOOLS) == 0
    assert support_score("The default maxsize of functools.lru_cache is 128.", FUNCTOOLS) == 1


def test_a_source_is_checked_with_the_title_the_model_read_over_it():
    # Release notes state their version in the title, not in each entry.
    notes = as_read("Git 2.38 Release Notes", "git rebase learned the --update-refs option.")
    manual = as_read("git-rebase(1)", "--update-refs: automatically force-update branches.")
    answer = "git rebase has had the --update-refs option since Git 2.38 [1]."
    report = check_citations(answer, [notes, manual])
    assert report.checks[0].verdict == "supported" and report.citations == [1]
    bare = check_citations(answer, ["git rebase learned the --update-refs option.", manual])
    assert bare.checks[0].verdict == "removed_unsupported"  # the version is in no passage
    # A title's plain words back nothing: naming the source is no claim it supports.
    named = "You should use the update hook from the Git User Manual [1]."
    manual_page = as_read("Git User Manual", "The pre-receive hook runs before any ref moves.")
    assert check_citations(named, [manual_page]).checks[0].verdict == "removed_unsupported"
    assert title_facts("What’s New In Python 3.10") == "3.10"
    assert title_facts("git-cherry-pick(1)") == ""


def test_a_path_or_ref_is_one_fact_not_the_question_words_it_is_made_of():
    # The answer "refs/original" is made of the question's own words, "original refs".
    question = question_words("In which ref namespace are the original refs stored by default?")
    passage = (
        "--original <namespace>: where the original commits are stored. "
        "The default value is refs/original."
    )
    right = "By default the original refs are stored in refs/original."
    wrong = "By default the original refs are stored in refs/backup."
    assert support_score(right, passage, question) >= 0.5
    assert support_score(wrong, passage, question) < 0.5
    assert support_score("It is stored under docs/original.", passage) < 0.5


def test_uncited_answer_is_attributed():
    answer = (
        "The lru_cache maxsize defaults to 128. The textwrap width defaults to 70. Hope this helps!"
    )
    report = check_citations(answer, CONTEXTS)
    assert report.answer == (
        "The lru_cache maxsize defaults to 128 [1]. The textwrap width defaults to 70 [2]. "
        "Hope this helps!"
    )
    assert report.citations == [1, 2]
    assert report.precision is None  # the model cited nothing of its own
    assert {c.verdict for c in report.checks} == {"attributed"}


def test_correct_citations_are_kept_and_precision_is_one():
    answer = "lru_cache keeps at most maxsize calls, 128 by default [citation:1]."
    report = check_citations(answer, CONTEXTS)
    assert report.answer == "lru_cache keeps at most maxsize calls, 128 by default [1]."
    assert report.precision == 1.0 and report.repairs == 0


def test_markers_after_the_full_stop_and_lists_and_code_blocks():
    answer = (
        "Facts:\n- maxsize is 128 for lru_cache.[1][2]\n- width is 70 in textwrap [1, 2]\n"
        "```python\ncache[1] = 70\n```\nDone."
    )
    report = check_citations(answer, CONTEXTS)
    assert "- maxsize is 128 for lru_cache [1]." in report.answer
    assert "- width is 70 in textwrap [2]" in report.answer
    assert "```python\ncache[1] = 70\n```" in report.answer  # code is left alone
    assert report.citations == [1, 2]


def test_strip_citations():
    assert strip_citations("It is 128 [1][2]. Yes [citation:3].") == "It is 128. Yes."


def test_chinese_sentences_end_at_their_stop_without_a_space() -> None:
    """Chinese writes no space after 。: each sentence keeps its own citation."""
    answer = "zoneinfo 模块是在 Python 3.9 中加入的 [1]。它提供 IANA 时区支持 [2]。"
    sentences = split_sentences(answer)
    assert [(s.body, s.cited) for s in sentences] == [
        ("zoneinfo 模块是在 Python 3.9 中加入的", [1]),
        ("它提供 IANA 时区支持", [2]),
    ]


def test_a_marker_written_as_the_sentences_referent_stays_where_it_was_written():
    """dev-31's "According to the text from [1], Python 3.11 is …" came back as "According
    to the text from, Python 3.11 is … [1]": every marker was cut out and put at the end."""
    claim = "the maxsize of lru_cache is 128 most recent calls"
    kept = check_citations(f"According to [1], {claim}.", CONTEXTS)
    assert kept.answer == f"According to [1], {claim}."
    moved = check_citations(f"According to [2], {claim}.", CONTEXTS)
    assert moved.answer == f"According to [1], {claim}."
    assert [(c.cited, c.final, c.verdict) for c in moved.checks] == [(2, 1, "moved")]
    gone = check_citations(f"As source [7] says, {claim} [1].", CONTEXTS)
    assert gone.answer == f"As source says, {claim} [1]."
    chinese = check_citations("根据[1]，lru_cache 的 maxsize 默认是 128。", CONTEXTS)
    assert chinese.answer.startswith("根据[1]，lru_cache")
    assert chinese.answer.count("[1]") == 1


def test_markers_after_the_last_word_are_placed_by_the_checker():
    report = check_citations("The maxsize of lru_cache is 128 most recent calls. [2][1]", CONTEXTS)
    assert report.answer == "The maxsize of lru_cache is 128 most recent calls [1]."
    assert split_sentences("Width is 70 [2].")[0].marked == "Width is 70"
