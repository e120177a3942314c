"""The text of a context as the model reads it: plain like a page's innerText, facts intact."""

from __future__ import annotations

import pytest

from retrieval.passages import plain_passage_text


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        # A Sphinx signature as trafilatura renders it: the default value loses its asterisks.
        (
            "- \n@functools.lru_cache(*maxsize=128*, *typed=False*)\n- Decorator to wrap",
            "@functools.lru_cache(maxsize=128, typed=False)\n- Decorator to wrap",
        ),
        ("- **PEP 557** – Data Classes", "- PEP 557 – Data Classes"),
        ("***very*** important", "very important"),
        # Emphasis never spans another `*`, and may close against a word character.
        ("*a*² ≤ *n*", "a² ≤ n"),
        ("**a *b* c** and *d*", "a b c and d"),
        # Asterisks that are not emphasis stay: arithmetic, globs, keyword-only markers.
        ("2*3*4 = 24 and a * b", "2*3*4 = 24 and a * b"),
        ("glob('*.py') and f(a, *, b)", "glob('*.py') and f(a, *, b)"),
        ("**kwargs and *args", "**kwargs and *args"),
    ],
)
def test_emphasis_and_empty_bullets_go_facts_stay(markdown: str, plain: str) -> None:
    assert plain_passage_text(markdown) == plain
