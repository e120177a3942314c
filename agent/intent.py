"""A deterministic prior for the search decision of the generic dialect.

The model decides (nodes/decide.py scores "search" against "answer directly" on its own
likelihoods) except for the kinds of message recognised here, which the rule decides alone:
those that never need a web search whatever the topic — small talk (greetings, thanks,
farewells), arithmetic (a bare sum or one told as a story: "7 commits a day for 3 weeks,
how many?"), translation (the Megrez protocol's own rule) and creative writing — so a small
model's noise cannot send them to the search engine; and time-sensitive questions
("latest", "current", "today", news, prices, scores, a recent year), which a model's memory
can never answer because it stops at its training date.

Each kind is recognised by its form, in English and in Chinese, not by a list of sentences:
small talk is a message made only of social phrases and filler words (small_talk*.txt), or
thanks or a farewell with a statement that asks nothing ("Thanks, I'll try that tomorrow"),
arithmetic is numbers with operators or a quantity question over two quantities. A message
that names code (`a.b`, `a_b`, `f()`, "module") is never translation or story arithmetic.
It never looks at what a question is about. The values give the direction (negative: no
search) and its strength.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.claims import NUMBER_WORDS, zh_numeral
from agent.word_lists import word_list

#: Log-likelihood units added to the search-vs-answer margin for each kind.
CHIT_CHAT = -4.0
ARITHMETIC = -6.0
TRANSLATION = -6.0
CREATIVE = -4.0
TIME_SENSITIVE = 8.0

_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")


def _phrase_pattern(phrases: frozenset[str]) -> re.Pattern[str]:
    """One alternation, longest first; ASCII phrases match whole words only."""
    parts = [
        re.escape(p) if _CJK_RE.search(p) else rf"\b{re.escape(p)}\b"
        for p in sorted(phrases, key=len, reverse=True)
    ]
    return re.compile("|".join(parts))


_SOCIAL_RE = _phrase_pattern(word_list("small_talk.txt"))
_FILLER = word_list("small_talk_filler.txt")
_CJK_FILLER_RE = _phrase_pattern(frozenset(w for w in _FILLER if _CJK_RE.search(w)))

# Code named in a message: a dotted or underscored name, a call, a backtick span, or the
# words for code. Outside quotes it makes "translate"/"how many" a question about code.
_CODE_RE = re.compile(
    r"[A-Za-z_]\w*[._]\w|\w\(\)|`|\b(?:module|function|method|class|api|library|package|"
    r"command|option|flag|parameter|argument)s?\b|模块|函数|方法|参数|命令|选项"
)
_QUOTED_RE = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’|「[^」]*」|『[^』]*』")


def _normalize(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def _names_code(clean: str) -> bool:
    return bool(_CODE_RE.search(_QUOTED_RE.sub(" ", clean)))


def is_chit_chat(text: str) -> bool:
    """Greetings, thanks, farewells and small talk, and nothing else."""
    clean = _normalize(text)
    rest = _SOCIAL_RE.sub(" ", clean)
    if rest == clean:
        return False
    rest = _CJK_FILLER_RE.sub(" ", rest)
    if _CJK_RE.search(rest):
        return False
    words = [w for w in re.findall(r"[^\W_]+(?:'[a-z]+)?", rest) if w not in _FILLER]
    return not words


# What makes a message ask: a question mark, a question word, an auxiliary opening a clause,
# a request verb ("tell me", "explain"), a wish ("I'd like", "I need") or a "but" that brings
# a problem ("Thanks, but it still fails"), and their Chinese forms (吗, 什么, 想知道, 但是…).
_ASKS_RE = re.compile(
    r"[?？]|\b(?:what|how|why|when|where|which|who|whose|whom|tell|show|explain|give|find|"
    r"search|look up|list|compare|describe|recommend|suggest|help me|need|want|would like|"
    r"i'd like|looking for|wonder(?:ing)?|curious|but|however|though|although|still)\b"
    r"|(?:^|[,.;:!]\s*|\band\s+)(?:can|could|would|should|is|are|was|were|does|do|did|will|"
    r"shall|may|has|have)\b"
    r"|什么|怎么|怎样|为什么|为何|吗|呢|哪|谁|几|多少|如何|是否|能否|告诉|解释|说明|查|搜|列出|比较|"
    r"介绍|推荐|帮我|想知道|想要|想问|需要|请问|好奇|但是|不过|可是|还是"
)
# A statement's subject: the user, the answer, "that" ("I'll try that tomorrow", "that's all
# for today", "我明天再试试", "今天就到这里").
_STATEMENT_RE = re.compile(
    r"\b(?:i|i'll|i'm|i've|i'd|we|we'll|we're|you|you've|that|that's|it|it's|this)\b"
    r"|我|你|这|那|就到"
)


def is_closing(text: str) -> bool:
    """Thanks or a farewell with a statement that asks nothing ("Thanks, I'll try that
    tomorrow", "cheers, that's all for today", "谢谢，今天就到这里"): small talk, though
    its words are not all social ones and may name a time ("today" is no news question)."""
    clean = _normalize(text)
    rest = _SOCIAL_RE.sub(" ", clean)
    if rest == clean or _names_code(clean) or _ASKS_RE.search(rest):
        return False
    return bool(_STATEMENT_RE.search(rest))


# --- arithmetic --------------------------------------------------------------------------

_ZH_NUMERAL_RE = re.compile("[零〇一二两三四五六七八九十百千万]+")
_EN_NUMBERS = NUMBER_WORDS | {"hundred": 100, "thousand": 1000, "dozen": 12}
_EN_NUMBER_RE = re.compile(r"\b(?:" + "|".join(_EN_NUMBERS) + r")\b")


def _arabic(text: str) -> str:
    """Number words (English "seven", Chinese "二十三") written as digits."""
    text = _EN_NUMBER_RE.sub(lambda m: str(_EN_NUMBERS[m.group(0)]), text)
    return _ZH_NUMERAL_RE.sub(lambda m: f" {zh_numeral(m.group(0))} ", text)


_ARITH_WORDS = (
    (r"multiplied by|times|乘以|乘", "*"),
    (r"divided by|over|除以", "/"),
    (r"plus|added to|加上|加", "+"),
    (r"minus|less|减去|减", "-"),
    (r"to the power of|的\s*\d+\s*次方", "^"),
    (r"squared|的平方", "^2"),
    (r"cubed|的立方", "^3"),
    (r"percent of|%\s*of", "%"),
    (r"modulo|mod", "%"),
)
_ARITH_LEAD_RE = re.compile(
    r"^(?:please\s+|请\s*|请问\s*)?(?:what(?:'s| is)|how much is|calculate|compute|evaluate|"
    r"solve|work out|计算|算一下|算算|求)?\s*"
)
_ARITH_TAIL_RE = re.compile(r"\s*(?:=|等于|是|得)?\s*(?:多少|几)?\s*[?!.？！。]*$")
_ARITH_BODY_RE = re.compile(r"^[\d\s.,()+\-*/x×÷^%=]+$")


def _is_expression(clean: str) -> bool:
    body = _ARITH_TAIL_RE.sub("", _ARITH_LEAD_RE.sub("", clean))
    body = _arabic(body)
    for words, symbol in _ARITH_WORDS:
        body = re.sub(rf"(?:\b|(?<=[{_CJK}\s\d]))(?:{words})(?:\b|(?=[{_CJK}\s\d]))", symbol, body)
    numbers = re.findall(r"\d+(?:\.\d+)?", body)
    return (
        len(numbers) >= 2
        and bool(re.search(r"[+\-*/x×÷^%]", body))
        and bool(_ARITH_BODY_RE.match(body.strip()))
    )


# A quantity question over a story: two quantities, "how many", and a word that combines.
_QUANTITY_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]*\.\d)")
_ASK_RE = re.compile(r"\bhow (?:many|much|long|far|old)\b|\bwhat is the total\b|多少|几")
_COMBINE_RE = re.compile(
    r"\b(?:total|altogether|in all|combined|overall|each|per|every|a (?:day|week|month|year|"
    r"hour|minute)|an hour|if|left|remain(?:s|ing)?)\b|总共|一共|合计|总计|每|如果|假如|剩下|还剩"
)


def _is_story_sum(clean: str) -> bool:
    if _names_code(clean) or not _ASK_RE.search(clean) or not _COMBINE_RE.search(clean):
        return False
    return len(_QUANTITY_RE.findall(_arabic(clean))) >= 2


def is_arithmetic(text: str) -> bool:
    """A sum the model can do: numbers and operators ("17 乘以 23 等于多少？"), or a
    quantity question told as a story ("7 commits a day for 3 weeks, how many in total?")."""
    clean = _normalize(text)
    return _is_expression(clean) or _is_story_sum(clean)


# --- translation, creative writing, time ------------------------------------------------

_LANGUAGES = (
    "english|spanish|french|german|italian|portuguese|chinese|mandarin|cantonese|japanese|"
    "korean|russian|arabic|hindi|dutch|swedish|norwegian|danish|finnish|polish|turkish|greek|"
    "hebrew|latin|vietnamese|thai|indonesian|ukrainian|czech|hungarian|romanian|persian"
)
_ZH_LANGUAGE = r"(?:英|中|汉|日|法|德|俄|韩|西班牙|意大利|葡萄牙|阿拉伯|拉丁|粤)(?:语|文)"
_POLITE = r"^(?:please\s+|can you\s+|could you\s+|would you\s+|请|帮我|给我|麻烦你?|能不能|可以)*"
_TRANSLATE_RE = re.compile(
    _POLITE + r"(?:translate\b(?!\s*\()|how (?:do|would|can) (?:you|i|we) say\b)"
    rf"|\bwhat(?:'s| is| does)\b.*\b(?:mean )?in (?:{_LANGUAGES})\b"
    rf"|翻译|译成|译为|翻成|{_ZH_LANGUAGE}\s*(?:里|中)?\s*(?:怎么|如何)(?:说|讲|写)"
    rf"|{_ZH_LANGUAGE}\s*(?:是|叫)什么"
)
_CREATIVE_RE = re.compile(
    _POLITE + r"(?:(?:write|compose|make up|create|draft|come up with|generate|give)\b"
    r"(?:\W+\w+){0,6}?\W+(?:poem|haiku|story|joke|limerick|song|sonnet|riddle|rhyme|verse|"
    r"lyrics|slogan|tagline|toast|speech|letter|e-?mail|tweet|caption|pun|fable|fairy tale|"
    r"commit message|birthday message|thank-you note)s?\b"
    r"|tell\b(?:\W+\w+){0,4}?\W+(?:story|joke|riddle|fable|pun|fairy tale)s?\b"
    r"|(?:写|作|编|讲|来|创作|说)\s*(?:一|两|几)?\s*(?:首|个|段|篇|封|则|句|条)?.{0,10}?"
    r"(?:诗|词|歌|故事|笑话|谜语|对联|绕口令|祝福|贺词|信|邮件|文案|标语|口号|提交信息|段子|童话|寓言))"
)
_TIME_SENSITIVE_RE = re.compile(
    r"\b(?:latest|newest|current(?:ly)?|recent(?:ly)?|today(?:'s)?|tonight|yesterday|"
    r"tomorrow|right now|nowadays|this (?:week|month|year|season)|last (?:week|month|year|night)|"
    r"up[- ]to[- ]date|news|headlines?|prices?|stock|exchange rate|weather|forecast|scores?|"
    r"standings|who won|election|released? (?:date|so far)|just released)\b"
    r"|最新|最近|现在|目前|如今|今天|今日|昨天|明天|今年|本周|这周|本月|这个月|新闻|头条|价格|"
    r"股价|汇率|天气|比分|谁赢|选举|刚发布"
)
_YEAR_RE = re.compile(r"(?<!\d)(20\d\d)(?!\d)")


def is_time_sensitive(text: str, this_year: int | None = None) -> bool:
    """A question whose answer changes with time: the model's memory is out of date."""
    clean = _normalize(text)
    if _TIME_SENSITIVE_RE.search(clean):
        return True
    if this_year is None:
        from datetime import date

        this_year = date.today().year
    return any(int(year) >= this_year - 2 for year in _YEAR_RE.findall(clean))


_TO_LANGUAGE_RE = re.compile(rf"\b(?:in|into|to) (?:{_LANGUAGES})\b\s*[?.!]*$")


def is_translation(text: str) -> bool:
    """ "Translate …", "How do you say …", "翻译成英文"; "… in French?" only with quoted text
    ("Is the manual available in Japanese?" asks about the world)."""
    clean = _normalize(text)
    if _names_code(clean):
        return False
    return bool(_TRANSLATE_RE.search(clean)) or bool(
        _TO_LANGUAGE_RE.search(clean) and _QUOTED_RE.search(clean)
    )


@dataclass(frozen=True)
class Prior:
    value: float  # added to the search-vs-answer margin; 0 = no opinion
    kind: str  # "chit-chat", "arithmetic", "translation", "creative", "time-sensitive", "none"


def decision_prior(text: str) -> Prior:
    clean = _normalize(text)
    if not clean:
        return Prior(0.0, "none")
    if is_chit_chat(clean) or is_closing(clean):
        return Prior(CHIT_CHAT, "chit-chat")
    if is_arithmetic(clean):
        return Prior(ARITHMETIC, "arithmetic")
    if is_translation(clean):
        return Prior(TRANSLATION, "translation")
    if _CREATIVE_RE.match(clean):
        return Prior(CREATIVE, "creative")
    if is_time_sensitive(clean):
        return Prior(TIME_SENSITIVE, "time-sensitive")
    return Prior(0.0, "none")
