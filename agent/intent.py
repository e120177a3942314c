"""A deterministic prior for the search decision of the generic dialect.

The model decides (nodes/decide.py scores "search" against "answer directly" on its own
likelihoods) except for the kinds of message recognised here, which the rule decides alone:
those that never need a web search whatever the topic — greetings and small talk,
arithmetic, translation (the Megrez protocol's own rule) and creative writing — so a small
model's noise cannot send them to the search engine; and time-sensitive questions
("latest", "current", "today", news, prices, scores, a recent year), which a model's memory
can never answer because it stops at its training date. It never looks at what a question
is about. The values give the direction (negative: no search) and its strength.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Log-likelihood units added to the search-vs-answer margin for each kind.
CHIT_CHAT = -4.0
ARITHMETIC = -6.0
TRANSLATION = -6.0
CREATIVE = -4.0
TIME_SENSITIVE = 8.0

_SOCIAL_PHRASES = sorted(
    """hi|hello|hey|heya|howdy|greetings|good morning|good afternoon|good evening|good night|
    thanks|thank you|thank you very much|thanks a lot|many thanks|thx|cheers|bye|goodbye|
    see you|see you later|how are you|how are you doing|how is it going|how's it going|
    how do you do|what's up|whats up|nice to meet you|pleased to meet you|who are you|
    what is your name|what's your name|ok|okay|cool|great|awesome|nice|lol|yes|no|sure|
    i'm fine|i am fine|i'm good|i am good|well done|good job|you're welcome""".replace(
        "\n", ""
    ).split("|"),
    key=len,
    reverse=True,
)
_FILLER = frozenset(
    [
        "today",
        "there",
        "so",
        "much",
        "very",
        "really",
        "again",
        "all",
        "and",
        "too",
        "you",
        "i",
        "am",
        "fine",
        "doing",
        "well",
    ]
)
_SOCIAL_RE = re.compile(r"\b(?:" + "|".join(re.escape(p.strip()) for p in _SOCIAL_PHRASES) + r")\b")

_ARITH_WORDS = (
    (r"multiplied by|times", "*"),
    (r"divided by|over", "/"),
    (r"plus|added to", "+"),
    (r"minus|less", "-"),
    (r"to the power of", "^"),
    (r"squared", "^2"),
    (r"cubed", "^3"),
    (r"percent of", "%"),
    (r"modulo|mod", "%"),
)
_ARITH_LEAD_RE = re.compile(
    r"^(?:please\s+)?(?:what(?:'s| is)|how much is|calculate|compute|evaluate|solve|work out)\s+"
)
_ARITH_BODY_RE = re.compile(r"^[\d\s.,()+\-*/x×÷^%=]+$")

_TRANSLATE_RE = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+)*(?:translate\b|how do (?:you|i) say\b)"
)
_CREATIVE_RE = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+)*(?:write|compose|make up|tell|create|give)\b"
    r"(?:\W+\w+){0,6}?\W+(?:poem|haiku|story|joke|limerick|song|sonnet|riddle|rhyme|verse)s?\b"
)


_TIME_SENSITIVE_RE = re.compile(
    r"\b(?:latest|newest|current(?:ly)?|recent(?:ly)?|today(?:'s)?|tonight|yesterday|"
    r"tomorrow|right now|nowadays|this (?:week|month|year|season)|last (?:week|month|year|night)|"
    r"up[- ]to[- ]date|news|headlines?|prices?|stock|exchange rate|weather|forecast|scores?|"
    r"standings|who won|election|released? (?:date|so far)|just released)\b"
)
_YEAR_RE = re.compile(r"\b(20\d\d)\b")


def is_time_sensitive(text: str, this_year: int | None = None) -> bool:
    """A question whose answer changes with time: the model's memory is out of date."""
    clean = _normalize(text)
    if _TIME_SENSITIVE_RE.search(clean):
        return True
    if this_year is None:
        from datetime import date

        this_year = date.today().year
    return any(int(year) >= this_year - 2 for year in _YEAR_RE.findall(clean))


@dataclass(frozen=True)
class Prior:
    value: float  # added to the search-vs-answer margin; 0 = no opinion
    kind: str  # "chit-chat", "arithmetic", "translation", "creative", "time-sensitive", "none"


def _normalize(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def is_chit_chat(text: str) -> bool:
    """Greetings, thanks and small talk, and nothing else."""
    clean = _normalize(text)
    rest = _SOCIAL_RE.sub(" ", clean)
    if rest == clean:
        return False
    words = [w for w in re.findall(r"[a-z0-9']+", rest) if w not in _FILLER]
    return not words


def is_arithmetic(text: str) -> bool:
    """A sum the model can do: two numbers or more and an operator, nothing else."""
    body = _ARITH_LEAD_RE.sub("", _normalize(text)).rstrip("?!. ")
    for words, symbol in _ARITH_WORDS:
        body = re.sub(rf"\b(?:{words})\b", f" {symbol} ", body)
    numbers = re.findall(r"\d+(?:\.\d+)?", body)
    return (
        len(numbers) >= 2
        and bool(re.search(r"[+\-*/x×÷^%]", body))
        and bool(_ARITH_BODY_RE.match(body.strip()))
    )


def decision_prior(text: str) -> Prior:
    clean = _normalize(text)
    if not clean:
        return Prior(0.0, "none")
    if is_chit_chat(clean):
        return Prior(CHIT_CHAT, "chit-chat")
    if is_arithmetic(clean):
        return Prior(ARITHMETIC, "arithmetic")
    if _TRANSLATE_RE.match(clean):
        return Prior(TRANSLATION, "translation")
    if _CREATIVE_RE.match(clean):
        return Prior(CREATIVE, "creative")
    if is_time_sensitive(clean):
        return Prior(TIME_SENSITIVE, "time-sensitive")
    return Prior(0.0, "none")
