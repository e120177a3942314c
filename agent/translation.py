"""Search words in the sources' language for a question asked in another script.

A question in Chinese over English pages shares only its code names with them:
"zoneinfo 模块是在哪个 Python 版本加入的？" searched "zoneinfo Python" and missed the page
that says "New in version 3.9". The model translates the question's keywords into English
(the web's and most documentation's usual language) under a grammar that allows Latin text
only, so even a small model cannot answer the question instead or drift back into Chinese.
The user's own words stay a query of their own (retrieval/multiquery.py fuses both), so a
Chinese page is still found by them.

A follow-up ("它默认使用多少位有效数字？") has no subject of its own to translate: the earlier
question is shown with it (and the opening of its answer, whose terms the pages may use:
"精度", precision), so the model names that subject instead of inventing one — with
nothing to translate, a small model copied the prompt's one example ("Eiffel Tower default
decimal places"). The prompt now has several examples from unrelated topics.

Deterministic safeguards, as for every query (agent/query_writer.py): the translation keeps
only keywords, names from the prompt's examples are dropped unless the question has them
(a copied example is no translation), the question's Latin words (technical names as
written) are added where the model dropped them, and a failed or unusable translation leaves
the query as it was.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import cache
from itertools import pairwise

from agent.citation_marks import strip_citations
from agent.deps import AgentDeps
from agent.prompts import examples, render, template
from agent.query_writer import clean_query, is_follow_up, is_usable
from agent.support import question_words
from core.errors import MegrezSearchError
from retrieval.query import keyword_query
from retrieval.scripts import language_of, needs_translation
from runtime import Message, Sampling, Usage

log = logging.getLogger(__name__)
#: GBNF: one line of Latin keywords (letters, digits and the punctuation of code names).
KEYWORDS_GRAMMAR = r"""
root ::= [A-Za-z0-9] [A-Za-z0-9 ._+#/()-]{1,79}
"""
MAX_TOKENS = 24
_LATIN_WORD = re.compile(r"[A-Za-z0-9_]+(?:[.'’][A-Za-z0-9_]+)*")
#: Word pairs of the examples' queries a translation may share before it counts as a copy.
MAX_EXAMPLE_PAIRS = 1


#: How much of the earlier answer a follow-up's translation is shown: its first sentences,
#: where the subject's terms are ("精度" of "decimal 模块…精度可以由上下文设置" is the
#: "precision" the pages say, which the follow-up's "有效数字" is not).
MAX_EARLIER_ANSWER_CHARS = 160


def translation_prompt(question: str, earlier_question: str, earlier_answer: str = "") -> str:
    earlier = f"Earlier question: {earlier_question}\n" if earlier_question else ""
    if earlier_question and earlier_answer:
        earlier += f"Earlier answer: {earlier_answer}\n"
    return render("common", "translate_query_user", question=question, earlier=earlier)


def answer_lead(answer: str) -> str:
    """The earlier answer's opening, without citation marks, cut at a word or sentence end."""
    text = " ".join(strip_citations(answer).split())
    if len(text) <= MAX_EARLIER_ANSWER_CHARS:
        return text
    cut = text[:MAX_EARLIER_ANSWER_CHARS]
    end = max(cut.rfind(mark) for mark in "。！？.!?；;，, ")
    return cut[: end + 1].strip() if end > 0 else cut


def example_turns() -> list[Message]:
    """The prompt's worked examples as user and assistant turns of their own."""
    turns: list[Message] = []
    for example in examples("common", "translate_query_examples"):
        turns.append(
            Message("user", translation_prompt(example["question"], example.get("earlier", "")))
        )
        turns.append(Message("assistant", example["query"]))
    return turns


@cache
def example_names() -> frozenset[str]:
    """The subjects of the prompt's examples (lower-case): their queries' capitalised words
    and the Latin words their questions and queries share (curl, Rust, Mount, Everest)."""
    names: set[str] = set()
    for example in examples("common", "translate_query_examples"):
        asked = f"{example.get('earlier', '')} {example['question']}"
        written = {word.lower() for word in _LATIN_WORD.findall(asked)}
        for word in _LATIN_WORD.findall(example["query"]):
            if word[0].isupper() or word.lower() in written:
                names.add(word.lower())
    return frozenset(names)


def _pairs(text: str) -> set[tuple[str, str]]:
    words = [word.lower() for word in _LATIN_WORD.findall(text)]
    return set(pairwise(words))


@cache
def example_pairs() -> frozenset[tuple[str, str]]:
    """Consecutive word pairs of the examples' queries ("latest measured")."""
    found: set[tuple[str, str]] = set()
    for example in examples("common", "translate_query_examples"):
        found |= _pairs(example["query"])
    return frozenset(found)


def is_copy(translated: str, question: str) -> bool:
    """Whether `translated` repeats the examples' queries rather than translating `question`
    (a follow-up with nothing to translate came back as the examples run together)."""
    return len((_pairs(translated) & example_pairs()) - _pairs(question)) > MAX_EXAMPLE_PAIRS


def keywords_in_sources_language(
    question: str, translated: str | None, max_words: int, context: str = ""
) -> str | None:
    """The model's `translated` keywords, cleaned, without names copied from the prompt's
    examples that neither `question` nor its `context` (the earlier question) has, with the
    question's own Latin words (code names, versions) it left out; None when nothing usable
    is left."""
    if translated and is_copy(translated, f"{context} {question}"):
        return None
    own = {word.lower() for word in _LATIN_WORD.findall(f"{question} {context}")}
    copied = example_names() - own
    words = [w for w in keyword_query(clean_query(translated)).split() if w.lower() not in copied]
    known = {word.lower() for word in words}
    named = [w for w in _LATIN_WORD.findall(keyword_query(question)) if w.lower() not in known]
    query = " ".join([*named, *words][:max_words])
    return query if is_usable(query, max_words) and not needs_translation(query) else None


def translate_query(
    question: str,
    deps: AgentDeps,
    usage: Usage,
    run_id: str,
    earlier_questions: Sequence[str] = (),
    earlier_answers: Sequence[str] = (),
) -> str | None:
    """Keywords of `question` in English when it is written in another script, else None.
    A follow-up is shown with the latest of `earlier_questions`, whose subject it means, and
    the opening of its answer (`earlier_answers`, one per question), whose terms it may mean
    (an English follow-up is searched with that turn's words too: retrieval/multiquery.py)."""
    if not needs_translation(question):
        return None
    follows = bool(earlier_questions) and is_follow_up(question)
    context = earlier_questions[-1] if follows else ""
    answered = len(earlier_answers) == len(earlier_questions)
    lead = answer_lead(earlier_answers[-1]) if follows and answered else ""
    messages = [
        Message("system", template("common", "translate_query_system")),
        *example_turns(),
        Message("user", translation_prompt(question, context, lead)),
    ]
    sampling = Sampling(max_tokens=MAX_TOKENS, grammar=KEYWORDS_GRAMMAR)
    try:
        text = deps.complete(messages, sampling, usage, run_id)
    except MegrezSearchError as exc:
        log.warning("query translation failed, searching the question's words: %s", exc)
        return None
    query = keywords_in_sources_language(
        question, text, deps.settings.agent.max_query_words, f"{context} {lead}".strip()
    )
    log.info("question in another script: searching %r (model wrote %r)", query, text)
    return query


def asked_words(question: str, queries: Sequence[str]) -> frozenset[str]:
    """The words the user asked with: the question's own, and, for a question in another
    script than its searches, those of the queries written for it in the sources' language.
    The support check takes them as given: "对应的数值是 50" over the table row "CRITICAL | 50"
    places its number by the translated "critical", which the Chinese sentence cannot carry."""
    language = language_of(question)
    translated = " ".join(q for q in queries if language_of(q) != language)
    return question_words(question) | (question_words(translated) if translated else frozenset())
