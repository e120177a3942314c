"""Whether a text holds a gold answer: the answer and context checks of the evaluation.

A gold answer is found case-insensitively, a number only as a whole number, and an answer's
numbers and Chinese units however they are written ("1 million", "5 秒").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.citation_marks import strip_citations
from agent.claims import same_numbers

from .answer_language import cut_source_list


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Case-insensitive containment of any of `answers` in `text`; a number is not found
    inside a longer one ("28" is not in "9046…2803…", "5 seconds" not in "15 seconds")."""
    folded = text.casefold()
    return any(
        re.search(_as_found(answer.strip().casefold()), folded)
        for answer in answers
        if answer.strip()
    )


def _as_found(answer: str) -> str:
    head = r"(?<!\d)" if answer[0].isdigit() else ""
    tail = r"(?!\d)" if answer[-1].isdigit() else ""
    return head + re.escape(answer) + tail


def context_hit(passages: Sequence[str], answers: Sequence[str]) -> bool | None:
    """A gold answer string in the passages shown to the model; None without answers."""
    if not any(a.strip() for a in answers):
        return None
    return any(contains_answer(text, answers) for text in passages)


#: Units a Chinese answer writes after a number, as the English gold strings name them: the
#: question is asked in Chinese and answered in Chinese ("5 秒"), its gold is "5 seconds".
_ZH_UNITS = {
    "纳秒": "nanoseconds",
    "微秒": "microseconds",
    "毫秒": "milliseconds",
    "秒钟": "seconds",
    "秒": "seconds",
    "分钟": "minutes",
    "小时": "hours",
    "天": "days",
    "字节": "bytes",
    "次": "times",
}
_ZH_UNIT_RE = re.compile(
    r"(\d(?:[\d.,_]*\d)?)\s*(" + "|".join(sorted(_ZH_UNITS, key=len, reverse=True)) + ")"
)


def english_units(text: str) -> str:
    """`text` with a Chinese unit after a number in English: "5 秒" as "5 seconds"."""
    return _ZH_UNIT_RE.sub(lambda m: f"{m.group(1)} {_ZH_UNITS[m.group(2)]}", text)


def answer_correct(answer: str, answers: Sequence[str]) -> bool | None:
    """The answer holds a gold string; None for open-ended questions (no `answers`).

    Citation markers are removed first: `[2]` must not count as the answer "2"; so is the
    list of source titles after "the sources don't say": a title ("What's New In Python
    3.10") must not count as the answer "3.10". Numbers match however they are written:
    "1 million" and "1_000_000" are the gold "1,000,000", and so do units in Chinese: "5 秒"
    is the gold "5 seconds".
    """
    if not any(a.strip() for a in answers):
        return None
    body = english_units(strip_citations(cut_source_list(answer)[0]))
    if contains_answer(body, answers):
        return True
    # The numbers spelt alike: "1 million" holds "1,000,000", "10 million" does not.
    numbered = [same_numbers(a) for a in answers if any(ch.isdigit() for ch in a)]
    return contains_answer(same_numbers(body), numbered)
