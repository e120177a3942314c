"""Support: how much of an answer sentence a source states, without a model.

Lexical: the weighted share of the sentence's content words (numbers and identifiers weigh
more, they carry the facts) found in the source, scaled by the share of its numbers the
source states, and zero for a stated contradiction. Cheap, deterministic, and the same
reading everywhere: the checker (agent/citations.py), the grounding mark, the UI's highlight
of what backs a claim (`supporting_span`) and the evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from agent.citation_marks import strip_citations
from agent.claims import as_digits, carried_words, contradiction, is_foreign
from agent.quantities import equivalents
from agent.word_lists import word_list

#: The stops that end a sentence, Latin and CJK: the one list the checker, the support check
#: and the UI's citation preview split by.
LATIN_SENTENCE_ENDS = ".!?"
CJK_SENTENCE_ENDS = "。！？；"
SENTENCE_ENDS = LATIN_SENTENCE_ENDS + CJK_SENTENCE_ENDS
# Sentence ends: a stop followed by space, and line breaks (list items). Latin sentences end
# at a stop and a space; CJK ones with or without a space (a citation written after the
# stop, "。[1]", keeps the sentence whole rather than move).
SENTENCE_END_RE = re.compile(
    rf"(?<=[{LATIN_SENTENCE_ENDS}])\s+|(?<=[{CJK_SENTENCE_ENDS}])\s*(?=[^\s\[])|\n+"
)
# A dotted or slashed name (`os.path`, the ref `refs/original`) is one word and its parts.
_WORD_RE = re.compile(r"[A-Za-z0-9_]+(?:[./][A-Za-z0-9_]+)*|[^\sA-Za-z0-9_\W]")
_NAME_JOINT_RE = re.compile(r"[./]")
_FACT_MARK_RE = re.compile(r"[_./]")  # what makes a word a code name or a path
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)*")
# A literal the sentence quotes: "…", “…” or `…` of two words or more (one word in quotes is
# a name, which the word match already weighs as a fact).
_QUOTE_RE = re.compile(r'"([^"\n]*\s[^"\n]*)"|“([^”\n]*\s[^”\n]*)”|`([^`\n]*\s[^`\n]*)`')


#: Words too common to show support.
_STOP_WORDS = word_list("stop_words.txt")


def _stem(word: str) -> str:
    # A light plural/verb-s strip, enough for "caches" ~ "cache"; not a real stemmer.
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _is_fact(word: str) -> bool:
    """A number, version, code name or path: what a source either states or not."""
    return any(ch.isdigit() for ch in word) or bool(_FACT_MARK_RE.search(word))


def content_words(text: str) -> dict[str, float]:
    """Content words of `text` with their weight: facts (numbers, identifiers) weigh 2."""
    words: dict[str, float] = {}
    for raw in _WORD_RE.findall(strip_citations(text)):
        pieces = [raw, *_NAME_JOINT_RE.split(raw)] if _NAME_JOINT_RE.search(raw) else [raw]
        for piece in pieces:
            word = piece.lower()
            if not word or word in _STOP_WORDS or (len(word) < 2 and not word.isdigit()):
                continue
            words[_stem(word)] = 2.0 if _is_fact(word) else 1.0
    return words


def _vocabulary(text: str) -> set[str]:
    vocab: set[str] = set()
    for raw in _WORD_RE.findall(text):
        vocab.add(_stem(raw.lower()))
        if _NAME_JOINT_RE.search(raw):
            vocab.update(_stem(piece.lower()) for piece in _NAME_JOINT_RE.split(raw))
    return vocab


def question_words(question: str) -> frozenset[str]:
    """The content words of the user's question, in `content_words`' form."""
    return frozenset(content_words(as_digits(question)))


def is_claim(sentence: str, contexts: Sequence[str], min_words: int) -> bool:
    """Whether `sentence` states enough to need a source: `min_words` content words, or,
    written in another script than every context, one name or number they could share."""
    words = content_words(sentence)
    if contexts and all(is_foreign(sentence, context) for context in contexts):
        return bool(carried_words(words))
    return len(words) >= min_words


def support_score(sentence: str, context: str, given: frozenset[str] = frozenset()) -> float:
    """Weighted share of `sentence`'s content words that occur in `context` (0..1).

    Numbers are facts a source either states or not: the score is scaled by the share of
    the sentence's numbers found in the context, so "maxsize is 32" is not backed by a
    page that says 128 however many other words they share.

    Words in `given` (the question's own) are left out when the sentence has others: an
    answer restates its question ("In Python 3.11 the database is version 14.0.0"), and
    what needs a source is what it adds, not the premise the user wrote. Not so the words of
    a literal the sentence quotes and the context holds word for word: `"# v2 git bundle"`
    is what the answer adds, though "git" and "bundle" are the question's.
    """
    sentence, context = as_digits(sentence), as_digits(context)
    words = content_words(sentence)
    if is_foreign(sentence, context):
        words = {word: words[word] for word in carried_words(words)}
    if not words:
        return 0.0
    quoted = quoted_words(sentence, context)
    if quoted <= given:  # the question's own literal: nothing the answer adds
        quoted = set()
    added = {word: weight for word, weight in words.items() if word not in given or word in quoted}
    words = added or words
    vocab = _vocabulary(context)
    # A number restated in another unit ("900 seconds (15 minutes)"; "0.1 seconds" for
    # "100 milliseconds") is there when the one it restates is, and its parts with it.
    carried = {n for n, same in equivalents(sentence, context).items() if same & vocab}
    carried |= {part for number in carried for part in number.split(".")}

    def present(word: str) -> bool:
        return word in vocab or word in carried

    total = sum(words.values())
    score = sum(weight for word, weight in words.items() if present(word)) / total
    numbers = [word for word in words if _NUMBER_RE.fullmatch(word)]
    if numbers:
        score *= sum(1 for number in numbers if present(number)) / len(numbers)
    if score and contradiction(sentence, context, given):
        return 0.0
    return score


def quoted_words(sentence: str, context: str) -> set[str]:
    """The content words of the literals `sentence` quotes that `context` holds verbatim
    (spacing aside)."""
    words: set[str] = set()
    matches = list(_QUOTE_RE.finditer(sentence))
    if not matches:  # most sentences: the context need not be respaced
        return words
    spaced = " ".join(context.split())
    for match in matches:
        literal = " ".join(next(group for group in match.groups() if group is not None).split())
        if literal and literal in spaced:
            words.update(content_words(literal))
    return words


#: Support the best sentence of a passage needs before it is shown as what backs a claim:
#: a third of the claim's words (a claim's support may span two sentences of the passage,
#: each then holding part of it; below a third, a highlight would point at a bystander).
SPAN_MIN_SUPPORT = 1 / 3


def supporting_span(
    sentence: str, passage: str, given: frozenset[str] = frozenset(), title: str = ""
) -> str:
    """The sentence of `passage` that supports `sentence` best, by the checker's own score
    (`support_score`, each sentence under the facts of the source's `title`, as the checker
    reads it: `as_read`), trimmed; "" when none holds `SPAN_MIN_SUPPORT` of it. The UI
    highlights it in the citation's preview and links the page at it."""
    best, best_score = "", 0.0
    for part in split_passage_sentences(passage):
        score = support_score(sentence, as_read(title, part), given)
        if score > best_score:
            best, best_score = part, score
    return best if best_score >= SPAN_MIN_SUPPORT else ""


def split_passage_sentences(passage: str) -> list[str]:
    """A passage's sentences and lines (list items, table rows), trimmed, none empty."""
    return [
        part.strip()
        for line in passage.splitlines()
        for part in SENTENCE_END_RE.split(line)
        if part.strip()
    ]


@lru_cache(maxsize=256)  # every sentence of a source is read under its one title
def title_facts(title: str) -> str:
    """The versions, code names and paths of a source's title ("3.10" of "What's New In
    Python 3.10", `asyncio.run`), not its plain words nor a lone digit (a manual section's
    "(1)")."""
    return " ".join(
        word
        for word in _WORD_RE.findall(title)
        if _is_fact(word) and not (len(word) == 1 and word.isdigit())
    )


def as_read(title: str, text: str) -> str:
    """A source to check a sentence against: its passage under the facts of the title the
    model read over it. The title states a version its entries leave out: "What's New In
    Python 3.10" is when "Added the possibility of providing a key function to the APIs in the
    bisect module" happened; checked against the passage alone, the model's right citation of
    it was moved away. Only facts: a sentence that names a source ("…from the Git User
    Manual") would otherwise be backed by that source's plain title words."""
    facts = title_facts(title)
    return f"{facts}\n{text}" if facts else text
