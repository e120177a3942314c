"""Cleaning keeps the structure answers are read from, on pages of three documentation
generators: Sphinx (the Python docs, real pages), asciidoc (the git manual) and DocBook (the
PostgreSQL manual). The asciidoc and DocBook pages are cut from Debian's `git-doc` and
`postgresql-doc-15` (tests/retrieval/data/*.html, scripts and styles removed).

Definition lists keep each term on the line before its description, tables keep their rows
and header, notes keep their text apart from their label, and code blocks keep their lines.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from retrieval.clean import clean_document
from retrieval.passages import is_term_line, split_passages
from retrieval.types import Page, Passage

DATA = Path(__file__).parent / "data"
PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")


def clean(path: Path) -> str:
    return clean_document(path.read_bytes(), "text/html", f"http://docs.test/{path.name}").text


def passages(path: Path, words: int = 150) -> list[Passage]:
    url = f"http://docs.test/{path.name}"
    document = clean_document(path.read_bytes(), "text/html", url)
    return split_passages(Page(url, url, document.title, document.text, "text/html"), words)


def python_page(name: str) -> Path:
    path = PYTHON_DOCS / name
    if not path.exists():
        pytest.skip(f"{path} is not installed (Debian package python3.11-doc)")
    return path


# --- DocBook ---------------------------------------------------------------------------------


def test_docbook_page_keeps_its_section_headings() -> None:
    """DocBook pages have no container trafilatura knows as the main content; its fallback
    kept paragraphs only, so every heading was lost and passages had no section path."""
    text = clean(DATA / "docbook_runtime_config.html")
    assert "## 20.3. Connections and Authentication" in text
    assert "### 20.3.1. Connection Settings" in text
    paths = {p.heading_path for p in passages(DATA / "docbook_runtime_config.html")}
    assert ("20.3. Connections and Authentication", "20.3.1. Connection Settings") in paths


def test_docbook_settings_keep_each_whole_term_before_its_description() -> None:
    """The paragraph-only fallback kept "`max_connections` (" and lost the type."""
    text = clean(DATA / "docbook_runtime_config.html")
    assert "- `max_connections` (`integer`)\n- Determines the maximum number of concurrent" in text
    assert "- `port` (`integer`)\n- The TCP port the server listens on; 5432 by default." in text


def test_docbook_note_keeps_its_text() -> None:
    text = clean(DATA / "docbook_runtime_config.html")
    assert "On Windows, setting a value of 0 will set this parameter to 2 hours" in text


def test_docbook_limits_table_keeps_rows_and_header() -> None:
    text = clean(DATA / "docbook_limits.html")
    assert "| Item | Upper Limit | Comment |" in text
    assert "| identifier length | 63 bytes | can be increased by recompiling PostgreSQL |" in text
    assert "further limited by tuple size fitting on a single page" in text  # the note below it


def test_every_passage_of_a_long_table_repeats_its_header() -> None:
    """A row read alone ("| 32 | can be increased ...") does not say what its cells are."""
    pieces = [p for p in passages(DATA / "docbook_limits.html", words=40) if "|---" in p.text]
    assert len(pieces) >= 2
    for piece in pieces:
        assert piece.text.startswith("| Item | Upper Limit | Comment |\n|---|---|---|"), piece.text
    assert any("| identifier length | 63 bytes |" in piece.text for piece in pieces[1:])


# --- asciidoc --------------------------------------------------------------------------------


def test_asciidoc_options_keep_each_term_before_its_description() -> None:
    text = clean(DATA / "asciidoc_git_blame.html")
    assert "## OPTIONS" in text
    assert "- --root\n- Do not treat root commits as boundaries." in text
    assert "- -L <start>,<end>\n- -L :<funcname>\n- Annotate only the line range" in text


def test_asciidoc_code_block_keeps_its_lines() -> None:
    text = clean(DATA / "asciidoc_git_blame.html")
    synopsis = text.split("## SYNOPSIS", 1)[1].split("## OPTIONS", 1)[0]
    assert "[--incremental]\n" in synopsis  # the listing's line breaks survive
    assert "[-L <range>] [-S <revs-file>]" in synopsis


def test_asciidoc_note_is_not_glued_to_its_label() -> None:
    """asciidoc lays a note out as a one-row table (label cell, text cell): the label was
    glued to the text ("NoteFor people who do parsing")."""
    text = clean(DATA / "asciidoc_git_blame.html")
    assert "NoteFor" not in text
    assert "For people who do parsing: to make it more robust" in text


def test_asciidoc_data_tables_keep_rows_and_header() -> None:
    text = clean(DATA / "asciidoc_reftable_performance.html")
    assert "| repository | packed-refs | reftable | % original | avg ref | avg obj |" in text
    assert "| android | 62.2 M | 36.1 M | 58.0% | 33 bytes | 5 bytes |" in text
    assert "| reftable | cold | 112 ms | 33.9 usec | 323.2 usec |" in text


# --- Sphinx (real pages) ---------------------------------------------------------------------


def test_sphinx_api_entry_keeps_its_signatures_before_its_description() -> None:
    text = clean(python_page("library/functools.html"))
    assert (
        "@functools.lru_cache(*maxsize=128*, *typed=False*)\n"
        "- Decorator to wrap a function with a memoizing callable"
    ) in text
    assert "¶" not in text


def test_sphinx_note_and_constant_entries_keep_their_text() -> None:
    functools = clean(python_page("library/functools.html"))
    assert "Note, this decorator interferes with the operation of" in functools
    # A short entry of mostly linked code (once lost from the whole page).
    datetime = clean(python_page("library/datetime.html"))
    assert "- datetime.MAXYEAR\n- The largest year number allowed in a date or datetime" in datetime


def test_sphinx_tables_keep_rows_and_header() -> None:
    text = clean(python_page("library/stdtypes.html"))
    assert "| Operation | Result | Notes |" in text
    assert "| `x or y` | if *x* is false, then *y*, else *x* | (1) |" in text


# --- inline code that wrapped in the HTML source, any generator -------------------------------

_WRAPPED_CODE = {
    "sphinx": '<code class="docutils literal notranslate"><span class="pre">git</span> '
    '<span class="pre">log</span> <span class="pre">--first-parent</span>\n'
    '<span class="pre">master..seen</span></code>',
    "asciidoc": "<code>git log --first-parent\nmaster..seen</code>",
    "docbook": '<code class="literal">git log --first-parent\nmaster..seen</code>',
}


def _page_with(code: str) -> bytes:
    filler = "<p>A paragraph with enough words in it to be read as content, not boilerplate.</p>"
    return (
        "<html><head><title>Topics</title></head><body><main><h1>Topics</h1>"
        f"{filler}<p>To find the tip of a topic branch, run {code} and read its merges.</p>"
        f"{filler}</main></body></html>"
    ).encode()


@pytest.mark.parametrize("generator", sorted(_WRAPPED_CODE))
def test_inline_code_that_wrapped_stays_in_its_sentence(generator: str) -> None:
    """trafilatura wrote it as a fenced block in mid-sentence ("run ```\\ngit log …\\n```"),
    so its lines read as code lines, cut off from the sentence that says what it does."""
    page = _page_with(_WRAPPED_CODE[generator])
    text = clean_document(page, "text/html", "http://docs.test/topics.html").text
    assert "run `git log --first-parent master..seen`" in text
    assert "```" not in text


def test_a_wrapped_inline_sum_is_not_read_as_a_list_item() -> None:
    """The decimal page's "`1.30\\n+ 1.20`" became a list item "+ 1.20 ``` is `2.50`."."""
    path = python_page("library/decimal.html")
    assert "significant places so that `1.30 + 1.20`\nis `2.50`." in clean(path)
    assert not any("+ 1.20" in p.text and "```" in p.text for p in passages(path))


def test_a_code_block_after_text_keeps_its_lines() -> None:
    listing = (
        "<code>$ git clone git://example.org/project.git my-project\n$ cd my-project\n$ make</code>"
    )
    page = _page_with(listing).replace(b"run ", b"clone it and build it: ")
    text = clean_document(page, "text/html", "http://docs.test/topics.html").text
    assert "$ cd my-project\n$ make" in text


# --- a definition's term stays in the passage of its description, any generator --------------


def _cut_from_its_description(found: list[Passage]) -> list[str]:
    """Each passage's last line that is a term whose description opens the next passage."""
    cuts = []
    for before, after in itertools.pairwise(found):
        last, first = before.text.splitlines()[-1], after.text.splitlines()[0]
        if is_term_line(last) and first.lstrip().startswith("- ") and not is_term_line(first):
            cuts.append(last)
    return cuts


@pytest.mark.parametrize(
    "path",
    [
        DATA / "docbook_runtime_config.html",  # `<dt>` of settings
        DATA / "asciidoc_git_blame.html",  # options
        PYTHON_DOCS / "library/ast.html",  # "*class* ast.comprehension(*target*, …)"
    ],
    ids=["docbook", "asciidoc", "sphinx"],
)
def test_a_long_definition_list_is_cut_between_entries_only(path: Path) -> None:
    """Passages of 60 words cut these pages' definition lists many times; a cut between a
    term and its description left a description that does not say what it describes (one
    passage boundary in five in the git manual, before)."""
    if not path.exists():
        pytest.skip(f"{path} is not installed")
    assert _cut_from_its_description(passages(path, 60)) == []


def test_a_term_is_a_short_item_not_a_statement() -> None:
    assert is_term_line("- help.autoCorrect")
    assert is_term_line("- -m <msg>")
    assert is_term_line("  - `listen_addresses` (`string`)")
    assert not is_term_line("- 0 (default): show the suggested command.")
    assert not is_term_line("- Possible config values are:")
    assert not is_term_line("help.autoCorrect")  # not a list item
    assert not is_term_line("- If git detects typos and can identify exactly one command")
