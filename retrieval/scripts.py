"""Writing systems of a text: which language family to answer in, and CJK text for search.

Search indexes and keyword rules were written for space-separated Latin text. Three things
follow from a text's script, for any language rather than one:
- `language_of`: the language an answer or a message should be written in ("zh" for Han
  text, "ja" when kana appear, "ko" for Hangul, "other" for any other non-Latin script,
  "en" for Latin text — the web's and most documentation's usual script);
- `needs_translation`: a question in a non-Latin script searched over Latin-script sources
  needs its keywords in their language as well as its own;
- `cjk_bigrams`: CJK text has no spaces between words. Overlapping character bigrams are
  the classic index terms for it (Lucene's CJKAnalyzer): most Chinese words are two
  characters long, so bigrams find them without a dictionary, where FTS5's `trigram`
  tokenizer cannot match a two-character word at all and a segmenter (jieba) adds a
  dictionary load and splits query and page differently for names it does not know.
"""

from __future__ import annotations

import re

#: Han ideographs, kana and Hangul: scripts written without spaces between words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
CJK_RUN = re.compile(f"[{_CJK}]+")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile("[\u3040-\u30ff]")
_HANGUL = re.compile("[\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
#: Words of any other script: letters that are neither Latin nor CJK.
_OTHER_WORD = re.compile(f"[^\\W\\d_A-Za-z\u00c0-\u024f{_CJK}]+")
#: Share of a text's words, counting a CJK character as one, that makes it "written in" a
#: non-Latin script: code names and English terms inside a Chinese sentence
#: ("json.JSONDecodeError 是 ValueError 的子类") do not make it English.
NON_LATIN_SHARE = 0.5


def cjk_count(text: str) -> int:
    return sum(len(run) for run in CJK_RUN.findall(text))


def has_cjk(text: str) -> bool:
    return CJK_RUN.search(text) is not None


def language_of(text: str) -> str:
    """ "zh", "ja", "ko", "other" (another non-Latin script) or "en" (Latin, or no letters)."""
    latin = len(_LATIN_WORD.findall(text))
    cjk = cjk_count(text)
    other = len(_OTHER_WORD.findall(text))
    if cjk + other == 0 or cjk + other < NON_LATIN_SHARE * (cjk + other + latin):
        return "en"
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _HAN.search(text) and cjk >= other:
        return "zh"
    return "other"


def needs_translation(question: str, sources_language: str = "en") -> bool:
    """Whether `question` is written in another script than the sources it searches."""
    return language_of(question) != sources_language


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping bigrams of each CJK run of `text` ("模块加入" -> 模块 块加 加入); a
    one-character run is its own term."""
    grams: list[str] = []
    for run in CJK_RUN.findall(text):
        grams += [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
    return grams


#: Where a sentence ends: ASCII ends before a space, CJK and full-width ends (。！？；) at
#: once — Chinese puts no space after them. The split keeps all text (`"".join` restores it).
SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?])(?=\s)|(?<=[。！？；．])(?=.)")
#: A word of Latin text or one CJK character: the unit passage sizes are counted in.
_UNIT = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")


def word_count(text: str) -> int:
    """Length in words, a CJK character counted as one (passage sizes for any script)."""
    return len(_UNIT.findall(text))


#: A period that ends an abbreviation, not a sentence: two or three single letters with their
#: periods ("e.g.", "i.e."), a capital's (an initial: "J. Smith") or "cf.", "vs.", "approx.",
#: "incl.". A lone small letter ends a sentence: "Return a == b.", "of length n.".
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:[A-Za-z]\.){2,3}$|(?:^|[\s(])[A-Z]\.$|\b(?:[Cc]f|[Vv]s|approx|incl)\.$"
)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each with the whitespace before it (none are lost)."""
    sentences: list[str] = []
    for part in SENTENCE_BOUNDARY.split(text):
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] += part
        elif part:
            sentences.append(part)
    return sentences


def slices(text: str, size: int) -> list[str]:
    """`text` cut into pieces of `size` words (CJK characters) each, at word boundaries."""
    found = list(_UNIT.finditer(text))
    return [
        text[found[start].start() : found[min(start + size, len(found)) - 1].end()]
        for start in range(0, len(found), size)
    ]
