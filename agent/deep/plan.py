"""Sub-questions: what deep mode searches for first.

The plan always starts from a deterministic decomposition of the question (its sentences and
clauses: a two-hop question states its first hop in one clause and asks in another), so
even a model that plans nothing useful researches every part. The model adds its own
sub-questions on top:
- generic dialect: a JSON list of strings forced by a llama.cpp grammar, each kept only if
  it is a usable query about the question (shares its keywords, not a duplicate);
- megrez dialect: its native protocol, one `googleWebSearch` call per sub-question.
A plan the model spoils (invalid JSON, no calls, off-topic strings) falls back to the
decomposition alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from agent.query_writer import clean_query, is_usable
from retrieval.query import keyword_query
from runtime.megrez_format import FUNCTION_END, FUNCTION_START, parse_function_call

WEB_SEARCH = "googleWebSearch"
_SENTENCE_RE = re.compile(r"(?<=[.?!;])\s+|\s+[-—–]{1,2}\s+")
_CLAUSE_RE = re.compile(r",\s+")
#: A clause needs this many keywords to be searched on its own.
MIN_CLAUSE_KEYWORDS = 2
#: A model's sub-question must share this share of its keywords with the question...
MIN_OVERLAP = 0.5
#: ...and must not be a near-copy (keyword Jaccard similarity) of a planned one.
MAX_SIMILARITY = 0.7

#: GBNF: a JSON list of 1-5 short strings (the generic dialect's plan).
PLAN_GRAMMAR = r"""
root   ::= "[" ws item ( "," ws item ){0,4} ws "]"
item   ::= "\"" char{3,90} "\""
char   ::= [^"\\\n]
ws     ::= [ ]?
"""


def _keywords(text: str) -> set[str]:
    return {word.lower() for word in keyword_query(text).split()}


def decompose(question: str, most: int) -> list[str]:
    """The question, then its sentences, then their clauses (each with enough keywords)."""
    parts = [question.strip()]
    for sentence in _SENTENCE_RE.split(question.strip()):
        clauses = [c for c in _CLAUSE_RE.split(sentence) if c.strip()]
        if all(len(_keywords(c)) >= MIN_CLAUSE_KEYWORDS for c in clauses) and len(clauses) > 1:
            parts.extend(clauses)
        else:
            parts.append(sentence)
    return dedupe(parts, most)


def dedupe(subquestions: Sequence[str], most: int) -> list[str]:
    """Drop empty ones and ones with the same keywords as an earlier one; keep `most`."""
    kept: list[str] = []
    seen: list[set[str]] = []
    for text in subquestions:
        text = " ".join(text.split()).strip(" ,;")
        words = _keywords(text)
        if not words or words in seen:
            continue
        kept.append(text)
        seen.append(words)
    return kept[:most]


def _similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def on_topic(proposal: str, question: str, planned: Sequence[str], max_words: int) -> bool:
    """A model's sub-question worth searching: a usable query about this question that
    adds something to the `planned` ones (small models tend to copy the question)."""
    words = _keywords(proposal)
    if not is_usable(clean_query(proposal), max_words) or not words:
        return False
    if any(_similarity(words, _keywords(other)) > MAX_SIMILARITY for other in planned):
        return False
    return len(words & _keywords(question)) >= MIN_OVERLAP * len(words)


def parse_json_plan(text: str) -> list[str]:
    """The strings of a JSON list; [] for anything else."""
    try:
        value = json.loads(text.strip())
    except json.JSONDecodeError:
        return []
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def parse_search_calls(text: str) -> list[str]:
    """The query of every valid `googleWebSearch` call in `text`, in order."""
    queries: list[str] = []
    for piece in text.split(FUNCTION_START)[1:]:
        call = parse_function_call(FUNCTION_START + piece.split(FUNCTION_END)[0] + FUNCTION_END)
        arguments = call.get("arguments") if call else None
        query = arguments.get("query") if isinstance(arguments, dict) else None
        if call and call.get("name") == WEB_SEARCH and isinstance(query, str) and query.strip():
            queries.append(query.strip())
    return queries


def merge_plan(
    question: str, proposals: Sequence[str], most: int, max_words: int
) -> tuple[list[str], str]:
    """The decomposition with the model's usable proposals added; (plan, "model"|"fallback")."""
    base = decompose(question, most)
    accepted = [clean_query(p) for p in proposals if on_topic(p, question, base, max_words)]
    if not accepted:
        return base, "fallback"
    # The whole question first, then the model's sub-questions, then the clauses.
    merged = dedupe([base[0], *accepted, *base[1:]], most)
    return merged, "model"
