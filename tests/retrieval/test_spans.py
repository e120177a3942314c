"""Query-focused spans on pages of three generators (Sphinx, asciidoc, DocBook): what the
model reads is the matching sentences and rows of the best passages, with what they cannot
be read without (a table's header, a definition's term, an API entry's signature)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.clean import clean_document
from retrieval.policy import RankPolicy
from retrieval.rank import estimate_tokens, rank_passages
from retrieval.scripts import split_sentences
from retrieval.spans import GAP, focus_passages
from retrieval.types import Page, Passage

DATA = Path(__file__).parent / "data"
PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")


def page(path: Path) -> Page:
    url = f"http://docs.test/{path.name}"
    document = clean_document(path.read_bytes(), "text/html", url)
    return Page(url, url, document.title, document.text, "text/html")


def python_page(name: str) -> Page:
    path = PYTHON_DOCS / name
    if not path.exists():
        pytest.skip(f"{path} is not installed (Debian package python3.11-doc)")
    return page(path)


def spans(query: str, pages: list[Page], budget: int = 200) -> list[Passage]:
    policy = RankPolicy(context_tokens=budget, passages_per_source=3, rerank=False, spans=True)
    return rank_passages(query, pages, policy)


def whole(query: str, pages: list[Page], budget: int = 200) -> list[Passage]:
    policy = RankPolicy(context_tokens=budget, passages_per_source=3, rerank=False)
    return rank_passages(query, pages, policy)


def shown(passages: list[Passage]) -> str:
    return "\n\n".join(p.text for p in passages)


def focused(query: str, text: str, budget: int) -> str:
    """What the model reads of one passage holding `text`."""
    passage = Passage(text=text, url="http://docs.test/a.html", title="a", score=1.0)
    return shown(focus_passages(query, [passage], budget, estimate_tokens))


def test_a_docbook_table_row_comes_with_its_header_row() -> None:
    text = shown(spans("maximum identifier length", [page(DATA / "docbook_limits.html")], 80))
    assert "| identifier length | 63 bytes |" in text
    assert "| Item | Upper Limit | Comment |\n|---|---|---|" in text
    assert text.index("| Item |") < text.index("| identifier length |")


def test_an_asciidoc_option_keeps_its_term() -> None:
    text = shown(
        spans("treat root commits as boundaries", [page(DATA / "asciidoc_git_blame.html")])
    )
    assert "- --root\n- Do not treat root commits as boundaries." in text


def test_a_sphinx_description_keeps_its_signature_and_drops_the_rest() -> None:
    """The default is in the signature line, the question's words in the description."""
    functools = python_page("library/functools.html")
    query = "lru_cache maxsize default memoizing callable"
    focused = spans(query, [functools], 150)
    text = shown(focused)
    assert "@functools.lru_cache(*maxsize=128*, *typed=False*)" in text
    assert "memoizing callable" in text
    # The same budget spent on whole passages shows less of what matches: fewer passages.
    assert len(whole(query, [functools], 150)) <= len(focused)


def test_the_budget_holds_and_gaps_are_marked() -> None:
    functools = python_page("library/functools.html")
    focused = spans("lru_cache maxsize typed cache_info", [functools], 120)
    units = [
        line
        for passage in focused
        for line in passage.text.replace(f"\n{GAP}\n", "\n\n").split("\n")
        if line.strip()
    ]
    # Joins and gap marks are not counted: a token or two per unit at most.
    assert sum(estimate_tokens(unit) for unit in units) <= 120 + len(units)
    assert any(GAP in passage.text for passage in focused)


def test_wrapped_prose_is_read_as_sentences_and_code_fences_are_left_out() -> None:
    text = focused(
        "timeout seconds",
        "The timeout is how long to wait,\nin seconds, before giving up. It defaults\n"
        "to five. Nothing else matters here.\n\n```\nconnect(timeout=5)\n```",
        100,
    )
    assert "The timeout is how long to wait, in seconds, before giving up." in text
    assert "```" not in text
    assert "connect(timeout=5)" in text


def test_a_line_repeated_on_two_pages_is_shown_once() -> None:
    line = "The timeout parameter gives the seconds to wait."
    passages = [
        Passage(text=line, url=f"http://docs.test/{n}.html", title=str(n), score=1.0)
        for n in (1, 2)
    ]
    assert shown(focus_passages("timeout seconds", passages, 100, estimate_tokens)).count(line) == 1


def test_the_line_before_a_new_entry_stays_with_the_entry_before() -> None:
    """ "New in version 3.2." ends the entry above; shown before the next entry's signature
    the model read it as that entry's version (dev-22 answered 3.2 for indent(), new in 3.9)."""
    text = focused(
        "indent tree pretty printed",
        "- fromstringlist(sequence)\n- Parses an XML document from fragments.\n"
        "New in version 3.2.\n\n"
        "- indent(tree, space)\n- Appends whitespace to indent the tree for pretty-printed "
        "XML output.\n\nNew in version 3.9.",
        30,
    )
    assert "New in version 3.9." in text
    assert "3.2" not in text


def test_a_passage_whose_one_sentence_answers_reads_before_one_that_scatters_the_words() -> None:
    """git-28: BM25 put `git fast-import`'s passages, each query word in another sentence,
    above `git log`'s, whose one sentence holds them all; the budget went to the first."""
    query = "line length commit message bytes"
    scattered = " ".join(
        f"Field {n} of the stream is a {word} of its own kind."
        for n, word in enumerate(["line", "length", "commit", "message", "bytes"] * 3)
    )
    answering = (
        "- --log-size\n- Include a line giving the length of each commit message in bytes.\n"
        "- --full-diff\n- Show the full diff."
    )
    passages = [
        Passage(text=scattered, url="http://docs.test/fast-import.html", title="a", score=1.0),
        Passage(text=answering, url="http://docs.test/log.html", title="b", score=0.7),
    ]
    text = shown(focus_passages(query, passages, 60, estimate_tokens))
    assert "- --log-size\n- Include a line giving the length" in text


def test_one_unit_between_two_kept_ones_is_kept_too() -> None:
    """Windows of one neighbour around units 1 and 5 leave unit 3 out; it is taken so the
    text reads on instead of breaking at "…"."""
    sentences = [f"Sentence {n} says nothing much." for n in range(9)]
    sentences[1] = "The timeout is in seconds."
    sentences[5] = "A timeout of zero never waits."
    text = focused("timeout", " ".join(sentences), 60)
    assert text.startswith("Sentence 0 says nothing much. The timeout is in seconds. Sentence 2")
    assert "Sentence 3 says nothing much. Sentence 4" in text
    assert GAP not in text.split("zero never waits.")[0]


def test_a_sentence_does_not_end_at_an_abbreviation() -> None:
    """Cut at "e.g." the item lost its subject, `@{push}` (git-20 then answered with the
    example's output)."""
    item = "- [<branchname>]@{push}, e.g. master@{push}, @{push}. Reports where we would push."
    assert [s.strip() for s in split_sentences(item)] == [
        "- [<branchname>]@{push}, e.g. master@{push}, @{push}.",
        "Reports where we would push.",
    ]
    assert [s.strip() for s in split_sentences("Use a tool, i.e. git. Done.")] == [
        "Use a tool, i.e. git.",
        "Done.",
    ]


def test_a_sentence_ends_at_a_lone_small_letter() -> None:
    """ "Return a == b." was read as an initial, and hmac.compare_digest's description stayed
    one long unit with its "New in version 3.3." that a 450-token budget could not take."""
    text = "Return a == b.  This function uses an approach. Written by J. Smith, e.g. here."
    assert [s.strip() for s in split_sentences(text)] == [
        "Return a == b.",
        "This function uses an approach.",
        "Written by J. Smith, e.g. here.",
    ]


def test_a_description_comes_with_its_term_when_a_later_sentence_answers() -> None:
    """The answering sentence brings its item's first sentence, and that its term
    ("help.autoCorrect"): what says which setting the number is for."""
    text = (
        "- help.format\n- Override the default help format used by git help.\n"
        "- help.autoCorrect\n- If git detects typos, git will try to suggest the correct "
        "command. The suggestion can also be run for you. A positive number runs the "
        "suggested command after that many deciseconds.\n"
        "- help.htmlPath\n- Specify the path where the HTML documentation resides."
    )
    read = focused("positive number runs suggested command deciseconds", text, 50)
    assert "- help.autoCorrect\n- If git detects typos" in read
    assert "after that many deciseconds" in read
