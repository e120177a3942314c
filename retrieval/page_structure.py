"""Reshape a parsed HTML page so that main-text extraction keeps its structure.

trafilatura reads prose pages well; reference pages lose what answers are made of. Measured
on three documentation generators (Sphinx, asciidoc, DocBook):

- a definition list (`<dl>`: API entries, command options, configuration settings) becomes a
  list whose items are flattened to one line each, so a code block in a description loses its
  line breaks, and a term can end up far from its description;
- a page without a container trafilatura recognises as the main content (no `<main>`,
  `<article>`, `role="main"`, `id="content"`...: DocBook's pages) is read by its fallback,
  which keeps paragraphs only: every heading and half of each definition term are lost.

Nothing here looks at a generator's class names: only at HTML elements.
"""

from __future__ import annotations

import re

import lxml.html
from lxml.html import HtmlElement
from trafilatura.xpaths import BODY_XPATH

_PERMALINK = re.compile(r"\s*[¶\uf0c1]\s*$")  # the sign of a term's own anchor link


def prepare_for_extraction(tree: HtmlElement) -> None:
    """Reshape `tree` in place (see the module's docstring); call before trafilatura."""
    _unwrap_definition_markup(tree)
    _definition_lists_as_blocks(tree)
    _layout_tables_as_blocks(tree)
    _mark_main_content(tree)


def _unwrap_definition_markup(tree: HtmlElement) -> None:
    """Links and inline code inside definition descriptions (`<dd>`) become plain text.

    trafilatura drops some short `<dd>` entries whose text is mostly linked `<code>` ("The
    largest year number allowed in a [date] or [datetime] object. [MAXYEAR] is [9999].", lost
    from the whole `datetime` page); the same text without the markup is kept. Code blocks
    (`<pre>`) are left alone.
    """
    for element in tree.xpath("//dd//a | //dd//code[not(ancestor::pre)]"):
        element.drop_tag()


def _term_text(term: HtmlElement) -> str:
    return _PERMALINK.sub("", " ".join(term.text_content().split()))


def _definition_lists_as_blocks(tree: HtmlElement) -> None:
    """Each `<dl>` becomes plain blocks: a description's paragraphs, tables and code blocks
    stay blocks, and its terms open its first paragraph ("term: description"), so that a
    term and the start of its description are never split into different passages."""
    for dl in tree.xpath("//dl[dd]"):  # a list of terms alone (a table of contents) stays
        terms: list[str] = []
        for child in list(dl):
            if child.tag == "dt":
                text = _term_text(child)
                if text:
                    terms.append(text)
                dl.remove(child)
            elif child.tag == "dd":
                child.tag = "div"
                if terms:
                    _open_with_terms(child, terms)
                    terms = []
        if terms:  # terms without a description still say something
            ending = lxml.html.Element("div")
            dl.append(ending)
            _open_with_terms(ending, terms)
        dl.tag = "div"


def _open_with_terms(description: HtmlElement, terms: list[str]) -> None:
    """Open the description's first paragraph with its `terms` (a paragraph of their own when
    the description opens with anything else, e.g. a code block)."""
    first = description[0] if len(description) else None
    if first is None or first.tag != "p" or (description.text or "").strip():
        first = lxml.html.Element("p")
        description.insert(0, first)
    # "term: description" in plain text: trafilatura renders a <br> as a paragraph break and
    # joins the lines of a paragraph it has been given edited.
    heading = "; ".join(term.rstrip(":") for term in terms)
    rest = (first.text or "").lstrip()
    first.text = f"{heading}: {rest}" if rest or len(first) else heading


_BLOCKS = {"p", "div", "pre", "table", "ul", "ol", "dl", "blockquote", "h1", "h2", "h3", "h4"}


def _layout_tables_as_blocks(tree: HtmlElement) -> None:
    """A table of one row without header cells lays a block out (an admonition's label beside
    its text: "Note | For people who..."); it becomes one paragraph per cell, so the label is
    not glued to the text ("NoteFor people...") and a list item keeps its note."""
    for table in tree.xpath("//table[count(.//tr) = 1 and not(.//th)]"):
        for cell in table.xpath(".//td"):
            has_blocks = any(child.tag in _BLOCKS for child in cell)
            cell.tag = "div" if has_blocks else "p"
        for element in table.xpath(".//tr | .//tbody | .//thead"):
            element.drop_tag()
        table.tag = "div"


def _mark_main_content(tree: HtmlElement) -> None:
    """Wrap the body in `<main>` when trafilatura would find no main-content container."""
    body = tree.find("body")
    if body is None or any(expression(tree) for expression in BODY_XPATH):
        return
    main = lxml.html.Element("main")
    main.text, body.text = body.text, None
    for child in list(body):
        main.append(child)
    body.append(main)
