"""Search queries a weak model cannot spoil: deterministic safeguards around the query.

The query is the model's own (Megrez writes it in its function call) or, for the generic
dialect, the keywords of the question (`retrieval.query.keyword_query`). Either way:
- it is cleaned (one line, no markup) and never empty — a chatty or empty proposal falls
  back to the question's keywords;
- a follow-up names its subject: when the question leans on earlier turns ("how tall is
  it?", "and the other parameter?") and the query lacks their topic, the salient terms of
  the earlier turns are carried over — code identifiers first (`difflib.get_close_matches`
  from the question, `limit_denominator` from the answer), then the questions' keywords,
  and always the last exchange's subject (the word its question and answer use most, a
  name that is no ordinary English word first: the `stash` an answer introduced);
- it is short (`max_words`), and passages are ranked by it with the question's words it cut
  (`rank_query`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.word_lists import word_list
from retrieval.query import STOPWORDS, keyword_query, keywords, stem
from retrieval.scripts import language_of

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
        "other",
        "another",
        "same",
    ]
)
#: Openings by which a message continues the conversation ("And what about ...?").
_CONTINUATION_RE = re.compile(r"^\W*(?:and|also|then|so|what about|how about)\b", re.IGNORECASE)
#: Code identifiers: dotted or snake_case names, camelCase, calls.
_IDENTIFIER_RE = re.compile(
    r"\b[A-Za-z_][A-Za-z0-9]*(?:[._][A-Za-z0-9_]+)+\b|\b[a-z]+[A-Z][A-Za-z0-9]*\b"
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
#: Ordinary English words (BERT's whole-word vocabulary): a keyword outside them is a name.
ORDINARY_WORDS = word_list("common_words.txt")
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{2,}")


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
        bool(lowered & _ANAPHORA)
        or bool(_CONTINUATION_RE.match(question))
        or len(keyword_query(question).split()) <= SHORT_QUESTION_KEYWORDS
    )


def identifiers(text: str) -> list[str]:
    """Code names in `text` (`fractions.Fraction`, `limit_denominator`, `getLogger`)."""
    return [match.group(0).strip("._") for match in _IDENTIFIER_RE.finditer(text)]


def is_name(word: str) -> bool:
    """Whether `word` is a name, no ordinary English word: a command, module or product
    (`worktree`, `unicodedata`, `lighttpd`). Numbers, letters and other scripts are not."""
    lowered = word.lower()
    return bool(_NAME_RE.fullmatch(word)) and not {lowered, stem(lowered)} & ORDINARY_WORDS


def exchange_subject(question: str, answer: str = "") -> str | None:
    """The subject of one question and its answer: the keyword both use most (stemmed), a
    name counting one use more and winning ties, then the first seen. "Use git stash
    (short for git stash push) … git stash pop" gives `stash`; "the unicodedata module gives
    access to the Unicode Character Database" gives `unicodedata`, not the `module` and
    `Unicode` its question also used."""
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for word in keywords(f"{question} {answer}"):
        key = stem(word.lower())
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, word)

    def weight(key: str) -> tuple[int, bool]:
        name = is_name(first[key])
        return counts[key] + name, name

    return first[max(first, key=weight)] if first else None  # max keeps the first of equals


def salient_terms(
    earlier_questions: Sequence[str], earlier_answers: Sequence[str] = ()
) -> list[str]:
    """Topic terms of the earlier turns: identifiers first (the most recent turn first, its
    question before its answer), then the keywords of the questions."""
    recent_first = list(reversed(earlier_questions))
    answers = list(reversed(earlier_answers))
    named: list[str] = []
    for index, question in enumerate(recent_first):
        named += identifiers(question)
        if index < len(answers):
            named += identifiers(answers[index])
    terms: list[str] = []
    for term in [*named, *(t for q in recent_first for t in keyword_query(q).split())]:
        if term and term.lower() not in {t.lower() for t in terms}:
            terms.append(term)
    return terms


def _last_answer(earlier_questions: Sequence[str], earlier_answers: Sequence[str]) -> str:
    """The answer to the last earlier question ("" when the turns do not pair up)."""
    return earlier_answers[-1] if len(earlier_answers) == len(earlier_questions) else ""


def carried_terms(
    query: str,
    question: str,
    earlier_questions: Sequence[str],
    earlier_answers: Sequence[str] = (),
) -> list[str]:
    """Topic terms of earlier turns to add to `query`: none unless `question` is a follow-up
    and `query` names none of them already. The last exchange's subject (`exchange_subject`)
    is always among them: "Yes, the unicodedata module gives access to the Unicode
    Character Database" names the module its question only described."""
    if not earlier_questions or not is_follow_up(question):
        return []
    present = {w.lower() for w in _words(query)}
    for word in list(present):
        present.update(part for part in re.split(r"[._]", word) if part)
    answer = _last_answer(earlier_questions, earlier_answers)
    salient = salient_terms(earlier_questions, earlier_answers)
    last_subject = exchange_subject(earlier_questions[-1], answer)
    if language_of(query) == "en":  # a query in the sources' language carries their words
        salient = [term for term in salient if language_of(term) == "en"]
        if last_subject is not None and language_of(last_subject) != "en":
            last_subject = None
    # The subject is the earlier turns' code names when they have any: a shared plain word
    # ("default") does not make "the other parameter" name `difflib.get_close_matches`.
    subject = [term for term in salient if identifiers(term)] or salient
    if any(term.lower() in present for term in subject):
        return []
    carried = [term for term in salient if term.lower() not in present][:MAX_CARRIED_TERMS]
    if last_subject and last_subject.lower() not in {t.lower() for t in carried} | present:
        carried = [last_subject, *carried[: MAX_CARRIED_TERMS - 1]]
    return carried


def follow_up_context(
    question: str, earlier_questions: Sequence[str], earlier_answers: Sequence[str] = ()
) -> str:
    """The last earlier turn, question and answer, when `question` is a follow-up that leans
    on it; "" otherwise (a new topic is searched on its own words)."""
    if not earlier_questions or not is_follow_up(question):
        return ""
    return f"{earlier_questions[-1]} {_last_answer(earlier_questions, earlier_answers)}".strip()


def rank_query(query: str, question: str, max_words: int) -> str:
    """The query passages are ranked by: the search query, and the question's keywords it
    lacks where they were cut or are in another language. A query at `max_words` was cut
    for the engine, and what it cut ("the length of each commit message in bytes") is often
    what picks the passage among a page's; a query in another script than the question's
    (translated for the sources) gets the question's words, which pages in its language
    share. A query under the limit is left as written: the words it left out ("colour" of
    "what colour is a qwxzvb?") would pass passages that match nothing it searched for."""
    words = query.split()
    if len(words) < max_words and language_of(question) == language_of(query):
        return query
    present = {word.lower() for word in words}
    missing = [word for word in keyword_query(question).split() if word.lower() not in present]
    return " ".join([query, *missing])


def build_query(
    question: str,
    proposed: str | None,
    earlier_questions: Sequence[str] = (),
    max_words: int = 12,
    earlier_answers: Sequence[str] = (),
) -> str:
    """The query to search for `question` (the model's `proposed` one when usable);
    `earlier_answers[i]` answered `earlier_questions[i]`."""
    query = clean_query(proposed)
    if not is_usable(query, max_words):
        query = keyword_query(question)
    if not is_usable(query, max_words):
        query = clean_query(question)
    carried = carried_terms(query, question, earlier_questions, earlier_answers)
    # The carried subject must survive truncation: the question's own words make room.
    words = query.split()[: max(1, max_words - len(carried))]
    return " ".join([*words, *carried][:max_words])
