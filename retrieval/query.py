"""Deterministic query writing and tokenizing shared by ranking and the local index.

`keyword_query` turns a natural-language question into a keyword query (no model needed); the
agent can use it as a fallback when its model writes no usable query.
"""

from __future__ import annotations

import re

from retrieval.scripts import CJK_RUN, cjk_bigrams

# Question words, auxiliaries, pronouns and filler: words that carry no topic.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't could couldn't did didn't do does doesn't doing
    don't down during each else ever few for from further get gets got had hadn't has hasn't have
    haven't having he her here hers herself him himself his how i if in into is isn't it it's its
    itself just let's me more most much my myself no nor not now of off on once only or other
    ought our ours ourselves out over own please same shan't she should shouldn't so some such
    tell than that that's the their theirs them themselves then there these they this those
    through to too under until up us very was wasn't we were weren't what what's when where which
    while who whom whose why will with won't would wouldn't you your yours yourself yourselves
    hi hello hey thanks thank know explain describe give show find want need like i'm i've i'd
    use used using one ones
    """.split()  # noqa: SIM905 - a word block reads better than a 160-item list
)

# A word, or a run of CJK characters (written without spaces; kept whole for search engines).
_WORD = re.compile(rf"[A-Za-z0-9_]+(?:[.'’][A-Za-z0-9_]+)*|{CJK_RUN.pattern}")
_TOKEN = re.compile(r"[a-z0-9]+")


def keywords(text: str) -> list[str]:
    """The keywords of `text` in their order, repeats kept: its words without stopwords,
    possessives without their 's, dotted names (`functools.lru_cache`), versions and
    numbers whole."""
    words = (re.sub(r"[’']s$", "", m.group(0).replace("’", "'")) for m in _WORD.finditer(text))
    return [word for word in words if word and word.lower() not in STOPWORDS]


def keyword_query(text: str) -> str:
    """Keywords of `text` in their order, each once, e.g. "default maxsize functools.lru_cache".

    A question made only of stopwords still needs a query: then it is the text's words.
    """
    words: list[str] = []
    seen: set[str] = set()
    for word in keywords(text):
        if word.lower() not in seen:
            seen.add(word.lower())
            words.append(word)
    return " ".join(words) if words else " ".join(text.split())


def stem(token: str) -> str:
    """A light English stemmer: enough to match plurals, simple verb forms and "-ical"
    adjectives with their "-ic" forms ("numerical" and "numeric")."""
    if len(token) <= 3 or not token.isalpha():
        return token
    for suffix, replacement in (
        ("ical", "ic"),
        ("ies", "y"),
        ("sses", "ss"),
        ("xes", "x"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("ing", ""),
        ("ed", ""),
        ("s", ""),
    ):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            if suffix == "s" and token.endswith(("ss", "us", "is")):
                return token
            return token[: len(token) - len(suffix)] + replacement
    return token


def tokenize(text: str) -> list[str]:
    """Lower-case, split identifiers at `_`/`.`, drop stopwords, stem: the terms BM25 counts;
    CJK text as its character bigrams."""
    words = [stem(tok) for tok in _TOKEN.findall(text.lower()) if tok not in STOPWORDS]
    return words + cjk_bigrams(text) if CJK_RUN.search(text) else words
