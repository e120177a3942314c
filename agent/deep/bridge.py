"""What the first findings point to: the bridge of a multi-hop question, found without a model.

"The module that replaced X — what is its default Z?" cannot be searched in one go: the
first hop's page names the module, and only then can Z be searched. The pages' sentences
that best match a sub-question are read for names the question itself does not contain
(code spans first: documentation marks modules and functions as `code`), and each becomes a
follow-up query together with the keywords of the part of the question still to answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.citations import split_sentences
from retrieval.query import STOPWORDS, keyword_query, tokenize

_CODE_RE = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?`")
_NAME_RE = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b|\b[a-z]+_[a-z_]+\b")
#: Words that name a reference ("that module") rather than the thing itself.
_REFERRING = frozenset(
    ["that", "this", "it", "its", "the", "same", "another", "other", "different", "new"]
)
_WRAPPED_LINE_RE = re.compile(r"(?<=[^\n])\n(?!```)(?=[^\n\-*#|>\d])")
#: Sentences per passage read for candidates (the best-matching ones).
TOP_SENTENCES = 4


def _terms(text: str) -> set[str]:
    # The retrieval tokenizer: stemmed, identifiers split, and "default" is a word here
    # (the citation checker's vocabulary drops it, but questions ask for defaults).
    return set(tokenize(text))


def _match(sentence: str, query: str) -> float:
    """Share of the query's terms the sentence holds."""
    wanted = _terms(query)
    return len(wanted & _terms(sentence)) / len(wanted) if wanted else 0.0


def _density(sentence: str, query: str) -> float:
    """Share of the sentence's own terms that the query asks about."""
    found = _terms(sentence)
    return len(found & _terms(query)) / len(found) if found else 0.0


#: What kind of answer a question asks for, and how such an answer looks in a sentence.
_ANSWER_TYPES = (
    (
        re.compile(r"\b(?:which|what) (?:\w+ )?(?:exception|error)\b", re.IGNORECASE),
        re.compile(r"\w(?:Error|Exception)\b"),
    ),
    (
        re.compile(r"\b(?:which|what) (?:\w+ )?version\b|\bwhen was\b", re.IGNORECASE),
        re.compile(r"\bversion \d+\.\d+", re.IGNORECASE),
    ),
    (
        re.compile(r"\b(?:which|what) (?:\w+ )?function\b", re.IGNORECASE),
        re.compile(r"`[\w.]+\(\)`"),
    ),
    (re.compile(r"\bdefault\b", re.IGNORECASE), re.compile(r"\d")),
)
#: Bonus of a sentence holding the kind of answer its question asks for.
ANSWER_TYPE_BONUS = 0.5


def answer_type_bonus(sentence: str, query: str) -> float:
    return ANSWER_TYPE_BONUS * any(
        asks.search(query) and looks.search(sentence) for asks, looks in _ANSWER_TYPES
    )


def sentence_score(sentence: str, query: str) -> float:
    """How well `sentence` answers `query`: the query's words it holds, how much of the
    sentence is about them (a long signature line mentioning everything scores less), and
    whether it holds the kind of answer asked for (a version, an exception, a number)."""
    return (
        _match(sentence, query)
        + 0.5 * _density(sentence, query)
        + answer_type_bonus(sentence, query)
    )


def best_sentences(text: str, query: str, count: int) -> list[str]:
    """The `count` sentences of `text` that best match `query` (see `sentence_score`)."""
    # Cleaned Markdown may wrap a paragraph's lines: join them, keep list items and blocks.
    text = _WRAPPED_LINE_RE.sub(" ", text)
    sentences = [f"{s.body}{s.end}".strip() for s in split_sentences(text) if s.body.strip()]
    scored = sorted(sentences, key=lambda s: -sentence_score(s, query))
    return [s for s in scored[:count] if _match(s, query) > 0]


def candidates(passages: Sequence[str], subquestion: str, question: str) -> list[str]:
    """Names in the best-matching sentences of `passages` that `question` does not mention,
    code spans before other dotted/underscored names, best sentence first."""
    known = {word.lower() for word in re.findall(r"[A-Za-z0-9_]+", question)}
    found: list[str] = []
    for passage in passages:
        for sentence in best_sentences(passage, subquestion, TOP_SENTENCES):
            names = _CODE_RE.findall(sentence) + _NAME_RE.findall(sentence)
            for name in names:
                parts = {p.lower() for p in re.split(r"[._]", name) if p}
                # A name sharing a part with the question ("crypt.py") is not a new thing.
                if parts & known or name.lower() in STOPWORDS:
                    continue
                if name not in found:
                    found.append(name)
    return found


def target_keywords(subquestion: str, question: str) -> str:
    """The keywords still to search: those of the asking sub-question, referring words
    dropped ("that module" points at the bridge, which replaces it)."""
    source = subquestion if subquestion != question else question
    words = [w for w in keyword_query(source).split() if w.lower() not in _REFERRING]
    return " ".join(words)


def followup_query(candidate: str, target: str, max_words: int) -> str:
    words = [candidate, *[w for w in target.split() if w.lower() != candidate.lower()]]
    return " ".join(words[:max_words])
