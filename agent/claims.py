"""Does a sentence say what its passage says? The checks that word overlap cannot make.

The lexical support score (`citations.support_score`) counts shared words, so a sentence
that reuses a passage's words with the meaning turned around passes it. These checks find
three such wrong readings of the passage sentence that shares most words with the claim:

- numbers: each number of the sentence must be written in the passage near one of the
  sentence's other words ("the maximum size is 128" is not backed by "maxsize=128" in a
  passage about `maxsize=None`), numbers spelled as words or with separators included; a
  number restated in another unit ("900 seconds (15 minutes)", "0.1 seconds" for the
  passage's "100 milliseconds") stands with the one it restates;
- negation: a word both sentences share is negated in one and affirmed in the other ("the
  cache cannot grow" against "the cache can grow"; "unless" is "if not");
- opposites: the sentence says one of a pair (opposites.txt: True/False, enabled/disabled,
  separately/together...) where the passage says the other.

Across languages (a Chinese sentence over an English passage) only what is carried over
counts: names and numbers written the same in both. Sentences in the same language as their
passage use all their words. These are rules, not understanding: a paraphrase that changes
a meaning without a number, a negation or a listed opposite passes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from agent.quantities import equivalents
from agent.word_lists import word_list

_CJK = "\u3400-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_TOKEN_RE = re.compile(rf"[a-z0-9_][a-z0-9_\-]*(?:\.[a-z0-9_]+)*|[{_CJK}]")
_CLAUSE_RE = re.compile(r"(?<=[.!?;:])\s+|[\n。！？；，,]+")
_SENTENCE_RE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_NUMBER_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)*(?![\w])")

_NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "without",
        "neither",
        "nor",
        "unless",
        "cannot",
        "不",
        "没",
        "无",
        "未",
        "非",
        "别",
        "勿",
    ]
)
_STOP = word_list("stop_words.txt")
_NEGATION_SCOPE = 4  # tokens after a negation that it negates
#: A question with one of these (as `citations.question_words` spells "don't": "don") asks
#: about a negated case, so a negation in its answer is the question's, not a new claim.
_ASKED_NEGATIONS = _NEGATIONS | frozenset(
    {"don", "doesn", "didn", "isn", "aren", "wasn", "weren", "won", "hasn", "haven", "shouldn"}
)
_NUMBER_REACH = 150  # characters either side of a number in which its subject must appear

# Pairs read from opposites.txt, both ways.
_OPPOSITE: dict[str, str] = {}
for _line in word_list("opposites.txt"):
    _a, _b = _line.split()
    _OPPOSITE[_a], _OPPOSITE[_b] = _b, _a

_THOUSANDS = re.compile(r"(?<=\d)[,_](?=\d{3}(?!\d))")
_SCALED = re.compile(r"\b(\d+(?:\.\d+)?)\s+(thousand|million|billion)\b", re.IGNORECASE)
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}
#: Numbers written as English words (the decision rules' arithmetic reads them all).
NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
# A claim's numbers spelt as words: up to twelve, and not "one", a pronoun as often as a number.
_WORD_NUMBERS = {
    word: str(value) for word, value in NUMBER_WORDS.items() if value <= 12 and word != "one"
}
_WORD_NUMBER_RE = re.compile(r"\b(?:" + "|".join(_WORD_NUMBERS) + r")\b", re.IGNORECASE)
_ZH_DIGITS = dict(
    zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True)
)
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
# A Chinese numeral with a unit character (十, 百...): "五十", "一百二十八". A lone 一 or 两 is
# as often an article ("一个") as a number, so it is left as written.
_ZH_NUMERAL_RE = re.compile(
    "[零〇一二两三四五六七八九]*[十百千万][零〇一二两三四五六七八九十百千万]*"
)


def zh_numeral(run: str) -> int:
    """A Chinese numeral ("二十三", "一百零五", "三") as an int."""
    total, digit = 0, 0
    for ch in run:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        else:
            total += (digit or 1) * _ZH_UNITS[ch]
            digit = 0
    return total + digit


def same_numbers(text: str) -> str:
    """`1,000,000`, `1_000_000` and `1 million` as `1000000`: the sources and the answer spell
    numbers differently, and the support score compares words."""
    text = _THOUSANDS.sub("", text)
    return _SCALED.sub(lambda m: str(round(float(m.group(1)) * _SCALES[m.group(2).lower()])), text)


def as_digits(text: str) -> str:
    """`same_numbers`, and numbers written as words ("five", "五十") as digits."""
    text = _WORD_NUMBER_RE.sub(lambda m: _WORD_NUMBERS[m.group(0).lower()], same_numbers(text))
    return _ZH_NUMERAL_RE.sub(lambda m: f" {zh_numeral(m.group(0))} ", text)


def _tokens(text: str) -> list[str]:
    text = re.sub(r"n't\b", " not", text.lower().replace("’", "'")).replace("cannot", "can not")
    return [_stem(token) for token in _TOKEN_RE.findall(text)]


def _words_and_parts(text: str) -> set[str]:
    """The words of `text`, and the parts of its dotted names: a table row's
    "logging.CRITICAL | 50" places 50 by "critical" as well as by the whole name."""
    words = set(_tokens(text))
    return words | {_stem(part) for word in words if "." in word for part in word.split(".")}


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def is_foreign(sentence: str, passage: str) -> bool:
    """`sentence` is written in CJK and `passage` is not: only names and numbers carry over."""
    return bool(_CJK_RE.search(sentence)) and len(_CJK_RE.findall(passage)) * 20 < len(passage)


def carried_words(words: Iterable[str]) -> list[str]:
    """The words of a foreign sentence that a passage in another script can contain."""
    return [word for word in words if not _CJK_RE.search(word)]


def _polarity(clauses: Sequence[list[str]], word: str) -> bool | None:
    """True: every use of `word` is negated; False: none is; None: mixed or absent."""
    seen: set[bool] = set()
    for tokens in clauses:
        for at, token in enumerate(tokens):
            if token == word:
                before = tokens[max(0, at - _NEGATION_SCOPE) : at]
                seen.add(any(t in _NEGATIONS for t in before))
    return seen.pop() if len(seen) == 1 else None


def _clauses(text: str) -> list[list[str]]:
    return [tokens for part in _CLAUSE_RE.split(text) if (tokens := _tokens(part))]


def _aligned(sentence_words: set[str], passage: str) -> str | None:
    """The passage sentence that shares most of `sentence_words` (two at least)."""
    best, shared = None, 1
    for part in _SENTENCE_RE.split(passage):
        overlap = len(sentence_words & set(_tokens(part)))
        if overlap > shared:
            best, shared = part, overlap
    return best


def _number_unplaced(sentence: str, passage: str, given: frozenset[str], subject: set[str]) -> str:
    """A number of `sentence` that `passage` does not write near the sentence's subject."""
    text, claimed = as_digits(passage), as_digits(sentence)

    def placed(number: str) -> bool:
        places = [m.start() for m in re.finditer(rf"(?<![\w.]){re.escape(number)}(?!\w)", text)]
        return bool(places) and (
            not subject
            or any(
                subject & _words_and_parts(text[max(0, at - _NUMBER_REACH) : at + _NUMBER_REACH])
                for at in places
            )
        )

    restated = equivalents(claimed, text)
    for number in _NUMBER_RE.findall(claimed):
        if number in given or placed(number):
            continue
        # "900 seconds (15 minutes)": the 15 stands or falls with the 900 the passage gives;
        # "0.1 seconds" is where the passage writes "100 milliseconds".
        if not any(other in given or placed(other) for other in restated.get(number, ())):
            return number
    return ""


def contradiction(sentence: str, passage: str, given: frozenset[str] = frozenset()) -> str:
    """Why `passage` does not back `sentence` although they share words ("" = no reason
    found); `given` are the question's words, which need no source."""
    words = set(_tokens(sentence))
    if is_foreign(sentence, passage):
        words = set(carried_words(words))
    # What the number counts: the sentence's words and the question's ("What line width does
    # textwrap.wrap use?" makes "width=70" the place of "70 characters").
    subject = {w for w in words | given if not _NUMBER_RE.fullmatch(w) and len(w) > 2}
    subject -= _NEGATIONS | {w for w in subject if _CJK_RE.search(w)}
    number = _number_unplaced(sentence, passage, given, subject - _STOP)
    if number:
        return f"the passage does not give {number} for this"
    aligned = _aligned(words - _NEGATIONS - _STOP - set(_OPPOSITE), passage)
    if aligned is None:
        return ""
    aligned_words = set(_tokens(aligned))
    for word in words - aligned_words:
        other = _OPPOSITE.get(word)
        if other and other in aligned_words and other not in words:
            return f"the passage says {other!r}, not {word!r}"
    if given & _ASKED_NEGATIONS:
        return ""  # a negative question ("if you don't pass one"): its answer repeats the "not"
    mine, theirs = _clauses(sentence), _clauses(aligned)
    # The question's own words are the user's, not a claim: "the largest number base" is not
    # contradicted by a passage's "if x is not a number".
    for word in (words & aligned_words) - _NEGATIONS - _STOP - given:
        said, stated = _polarity(mine, word), _polarity(theirs, word)
        if said is not None and stated is not None and said != stated:
            verb, other = ("negated", "affirms") if said else ("affirmed", "negates")
            return f"{verb} where the passage {other} {word!r}"
    return ""
