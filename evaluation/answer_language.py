"""What an answer says before any list of sources, and which language it is written in.

`answer_language_match` (metrics.py) counts the answers written in their question's
language, read from the script (CJK characters against Latin words, retrieval/scripts.py).
"""

from __future__ import annotations

import re

from agent.citation_marks import strip_citations
from agent.prompts import message
from retrieval.scripts import language_of

# "The sources I found don't say. You can read them yourself:" before a list of titles, in
# each language the agent writes it in.
_SOURCES_LISTS = tuple(
    message("sources_dont_say", language, sources="$sources").split("$sources")[0].strip()
    for language in ("en", "zh")
)
_CODE_RE = re.compile(r"`[^`\n]*`")
_LETTER_RE = re.compile(r"[^\W\d_]")


def cut_source_list(answer: str) -> tuple[str, str]:
    """(the answer before a "the sources don't say" list of titles, that list's header)."""
    for header in _SOURCES_LISTS:
        if header in answer:
            return answer.split(header, 1)[0], header
    return answer, ""


def language_match(question: str, answer: str) -> bool | None:
    """The answer is written in the question's language (by script: CJK characters against
    Latin words; code spans and the listed source titles do not count); None when there is
    no answer or one without words."""
    before, header = cut_source_list(answer)
    body = strip_citations(_CODE_RE.sub(" ", f"{before} {header}"))
    if not _LETTER_RE.search(body):  # no words ("391"): written in no language
        return None
    return language_of(body) == language_of(question)
