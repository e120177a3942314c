"""Search queries a weak model cannot spoil: deterministic safeguards around the query.

The query is the model's own (Megrez writes it in its function call) or, for the generic
dialect, the keywords of the question (`retrieval.query.keyword_query`). Either way:
- it is cleaned (one line, no markup) and never empty — a chatty or empty proposal falls
  back to the question's keywords;
- a follow-up names its subject: when the question leans on earlier turns ("how tall is
  it?") and the query lacks their topic, the salient terms of the earlier questions are
  carried over;
- it is short (`max_words`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from megrez_search.retrieval.query import STOPWORDS, keyword_query

#: Words by which a question refers back to an earlier turn's subject.
_ANAPHORA = frozenset(
    [
        "it",
        "its",
        "it's",
        "itself",
        "they",
        "them",
        "their",
        "theirs",
        "themselves",
        "this",
        "these",
        "those",
        "he",
        "him",
        "his",
        "she",
        "her",
        "hers",
        "there",
        "such",
    ]
)
_CHATTY_RE = re.compile(
    r"^(?:sure|okay|ok|of course|certainly|here(?:'s| is| are)|i (?:will|would|can|think)|"
    r"i'm|let me|let's|as an ai|the answer|answer:|query:|search:)\b",
    re.IGNORECASE,
)
_MARKUP_RE = re.compile(r"<\|[^|]*\|>|[`*#\"{}\[\]<>]")
#: Terms carried from earlier turns into a follow-up's query.
MAX_CARRIED_TERMS = 3
#: A question with at most this many keywords is treated as a follow-up when there is history.
SHORT_QUESTION_KEYWORDS = 2


def clean_query(text: str | None) -> str:
    """`text` as one plain line: markup, quotes and newlines removed, spaces collapsed."""
    if not text:
        return ""
    text = _MARKUP_RE.sub(" ", text.replace("\\n", " "))
    return " ".join(text.split()).strip(" .,;:!?")


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9_]+(?:[.'’][A-Za-z0-9_]+)*", text)


def is_usable(query: str, max_words: int) -> bool:
    """Non-empty, has a topic word, not a chatty sentence, not a paragraph."""
    words = _words(query)
    return (
        bool(words)
        and len(words) <= 2 * max_words
        and any(w.lower() not in STOPWORDS for w in words)
        and not _CHATTY_RE.match(query)
    )


def is_follow_up(question: str) -> bool:
    lowered = {w.lower().replace("’", "'") for w in _words(question)}
    return (
        bool(lowered & _ANAPHORA) or len(keyword_query(question).split()) <= SHORT_QUESTION_KEYWORDS
    )


def salient_terms(earlier_questions: Sequence[str]) -> list[str]:
    """Topic terms of the earlier questions, the most recent question first."""
    terms: list[str] = []
    for question in reversed(earlier_questions):
        for term in keyword_query(question).split():
            if term.lower() not in {t.lower() for t in terms}:
                terms.append(term)
    return terms


def carried_terms(query: str, question: str, earlier_questions: Sequence[str]) -> list[str]:
    """Topic terms of earlier turns to add to `query`: none unless `question` is a follow-up
    and `query` names none of them already."""
    if not earlier_questions or not is_follow_up(question):
        return []
    present = {w.lower() for w in _words(query)}
    for word in list(present):
        present.update(part for part in re.split(r"[._]", word) if part)
    salient = salient_terms(earlier_questions)
    if any(term.lower() in present for term in salient):
        return []
    return salient[:MAX_CARRIED_TERMS]


def build_query(
    question: str,
    proposed: str | None,
    earlier_questions: Sequence[str] = (),
    max_words: int = 12,
) -> str:
    """The query to search for `question` (the model's `proposed` one when usable)."""
    query = clean_query(proposed)
    if not is_usable(query, max_words):
        query = keyword_query(question)
    if not is_usable(query, max_words):
        query = clean_query(question)
    carried = carried_terms(query, question, earlier_questions)
    # The carried subject must survive truncation: the question's own words make room.
    words = query.split()[: max(1, max_words - len(carried))]
    return " ".join([*words, *carried][:max_words])
