"""The generic dialect's query in the documentation's own terms, written by the model
(`MEGREZ_DOCS_QUERY`, off by default: measured in benchmarks/RESULTS.md, "Session 12").

The keywords of a question are the user's words: "copy a commit over from another branch",
"a USB stick that isn't always plugged in". Documentation pages are titled and written in
their own terms ("cherry-pick", "worktree lock"), which such a query never names. The model
knows many of those names, so it writes a short query in them, and the best page it finds
that the user's words did not is read too (agent/nodes/retrieve.py, `docs_page`): one page
more, never one of theirs less, because a small model also guesses ("PEP 515" for data
classes) and a guess that replaced or outranked the user's words lost Python questions.
Numbers the user did not write are dropped from it for the same reason.

Megrez writes its own query in its function call, and a question in another script gets its
keywords translated (agent/translation.py): neither needs this one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from agent.deps import AgentDeps
from agent.prompts import render, template
from agent.query_writer import build_query, clean_query, is_follow_up, is_usable
from core.errors import MegrezSearchError
from runtime import Message, Sampling, Usage

log = logging.getLogger(__name__)
MAX_TOKENS = 24
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
#: A number standing alone in a query word, with the "=" that assigns it ("timeout=5").
_GUESS = re.compile(r"=?(?<![\w.])(\d+(?:\.\d+)*)(?![\w.])")


def docs_query(
    question: str,
    deps: AgentDeps,
    usage: Usage,
    run_id: str,
    earlier_questions: Sequence[str] = (),
    earlier_answers: Sequence[str] = (),
) -> str | None:
    """The model's query for `question` in the documentation's terms, with a follow-up's
    subject carried over as for every query; None when the model fails or writes nothing
    usable. A follow-up is shown with the latest earlier question, whose subject it means."""
    context = earlier_questions[-1] if earlier_questions and is_follow_up(question) else ""
    earlier = f"Earlier question: {context}\n" if context else ""
    messages = [
        Message("system", template("common", "docs_query_system")),
        Message("user", render("common", "docs_query_user", question=question, earlier=earlier)),
    ]
    sampling = Sampling(max_tokens=MAX_TOKENS, temperature=0.0, stop=("\n",))
    try:
        text = deps.complete(messages, sampling, usage, run_id)
    except MegrezSearchError as exc:
        log.warning("the documentation-terms query failed, searching the keywords: %s", exc)
        return None
    max_words = deps.settings.agent.max_query_words
    written = without_guessed_numbers(clean_query(text), f"{context} {question}")
    if not is_usable(written, max_words):
        return None
    query = build_query(question, written, earlier_questions, max_words, earlier_answers)
    log.info("documentation-terms query %r (model wrote %r)", query, text)
    return query


def without_guessed_numbers(query: str, asked: str) -> str:
    """`query` without the words holding a number the user did not write: a small model
    names what it guesses ("PEP 515" for data classes, whose PEP is 557), and a wrong number
    finds the wrong page."""
    given = set(_NUMBER.findall(asked))

    def guessed(found: re.Match[str]) -> str:
        return found.group(0) if found.group(1) in given else ""

    kept = (_GUESS.sub(guessed, word) for word in query.split())
    return " ".join(word for word in kept if any(c.isalnum() for c in word))
