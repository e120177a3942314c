"""Reshape a parsed HTML page so that main-text extraction keeps its structure.

trafilatura reads prose pages well; reference pages lose what answers are made of. Measured
on three documentation generators (Sphinx, asciidoc, DocBook):

- a one-row layout table (asciidoc's notes: a label cell beside a text cell) glues the label
  to the text ("NoteFor people who...");
- a page without a container trafilatura recognises as the main content (no `<main>`,
  `<article>`, `role="main"`, `id="content"`...: DocBook's pages) is read by its fallback,
  which keeps paragraphs only: every heading and half of each definition term are lost.

Nothing here looks at a generator's class names: only at HTML elements.

Not done, measured: definition lists rewritten as "term: description" paragraphs (their
code blocks keep their lines, Sphinx's are flattened into the list item) lowered context
recall on the Python dev set from 0.94 to 0.85 (benchmarks/RESULTS.md, issue 21).
"""

from __future__ import annotations

import lxml.html
from lxml.html import HtmlElement
from trafilatura.xpaths import BODY_XPATH


def prepare_for_extraction(tree: HtmlElement) -> None:
    """Reshape `tree` in place (see the module's docstring); call before trafilatura."""
    _unwrap_definition_markup(tree)
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
