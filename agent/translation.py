"""Search words in the sources' language for a question asked in another script.

A question in Chinese over English pages shares only its code names with them:
"zoneinfo 模块是在哪个 Python 版本加入的？" searched "zoneinfo Python" and missed the page
that says "New in version 3.9". The model translates the question's keywords into English
(the web's and most documentation's usual language) under a grammar that allows Latin text
only, so even a small model cannot answer the question instead or drift back into Chinese.
The user's own words stay a query of their own (retrieval/multiquery.py fuses both), so a
Chinese page is still found by them.

Deterministic safeguards, as for every query (agent/query_writer.py): the translation keeps
only keywords, the question's Latin words (technical names as written) are added where the
model dropped them, and a failed or unusable translation leaves the query as it was.
"""

from __future__ import annotations

import logging
import re

from megrez_search.agent.deps import AgentDeps
from megrez_search.agent.generation import generate
from megrez_search.agent.prompts import render, template
from megrez_search.agent.query_writer import clean_query, is_usable
from megrez_search.retrieval.query import keyword_query
from megrez_search.retrieval.scripts import needs_translation

from megrez_search.errors import MegrezSearchError
from megrez_search.runtime import Message, Sampling, Usage

log = logging.getLogger(__name__)
#: GBNF: one line of Latin keywords (letters, digits and the punctuation of code names).
KEYWORDS_GRAMMAR = r"""
root ::= [A-Za-z0-9] [A-Za-z0-9 ._+#/()-]{1,79}
"""
MAX_TOKENS = 24
_LATIN_WORD = re.compile(r"[A-Za-z0-9_]+(?:[.'’][A-Za-z0-9_]+)*")


def keywords_in_sources_language(
    question: str, translated: str | None, max_words: int
) -> str | None:
    """The model's `translated` keywords, cleaned, with the question's own Latin words
    (code names, versions) it left out; None when nothing usable is left."""
    words = keyword_query(clean_query(translated)).split()
    known = {word.lower() for word in words}
    named = [w for w in _LATIN_WORD.findall(keyword_query(question)) if w.lower() not in known]
    query = " ".join([*named, *words][:max_words])
    return query if is_usable(query, max_words) and not needs_translation(query) else None


def translate_query(question: str, deps: AgentDeps, usage: Usage, run_id: str) -> str | None:
    """Keywords of `question` in English when it is written in another script, else None."""
    if not needs_translation(question):
        return None
    messages = [
        Message("system", template("common", "translate_query_system")),
        Message("user", render("common", "translate_query_user", question=question)),
    ]
    sampling = Sampling(max_tokens=MAX_TOKENS, grammar=KEYWORDS_GRAMMAR)
    try:
        text = "".join(
            generate(
                deps.runtime,
                messages,
                sampling,
                usage,
                stall_timeout_s=deps.settings.model_stall_timeout_s,
                cancel=deps.cancel_event(run_id),
            )
        )
    except MegrezSearchError as exc:
        log.warning("query translation failed, searching the question's words: %s", exc)
        return None
    query = keywords_in_sources_language(question, text, deps.settings.max_query_words)
    log.info("question in another script: searching %r (model wrote %r)", query, text)
    return query
