"""The messages each step sends, in the model's dialect.

- megrez: the InfiniWebSearch protocol Megrez-3B was trained with. System prompt = role
  line + current-time line (+ with search on: the functions line and the pretty-printed
  `googleWebSearch` schema). A search goes back as the model's own function call followed by
  an `observation` turn of `[[citation:N]]` contexts; the model cites `[citation:N]`.
- generic: any other chat model, down to a 135M one: short plain instructions; numbered
  sources `[N]` in the user turn; decisions are constrained choices (see nodes/decide.py).

All wording lives in `prompts/`; this module assembles its pieces, and each dialect's
messages are put together by its object in agent/dialect.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from megrez_search.agent.citations import strip_citations
from megrez_search.agent.prompts import render, template, web_search_function
from megrez_search.agent.state import Context, Turn

from megrez_search.runtime import Message
from megrez_search.runtime.megrez_format import render_function_call

WEB_SEARCH = "googleWebSearch"


# --- shared ----------------------------------------------------------------------------------


def history_messages(turns: Sequence[Turn], window: int) -> list[Message]:
    """The last `window` answered exchanges of `turns`, as plain user/assistant messages.

    Failed or unanswered turns are skipped; citation markers are dropped from answers
    because their numbers referred to that turn's sources, not the next one's.
    """
    pairs: list[tuple[Turn, Turn]] = []
    pending: Turn | None = None
    for turn in turns:
        if turn.get("role") == "user":
            pending = turn
        elif pending is not None and not turn.get("error") and turn.get("content"):
            pairs.append((pending, turn))
            pending = None
    messages: list[Message] = []
    for user, assistant in pairs[-window:] if window > 0 else []:
        messages.append(Message("user", user.get("model_text") or user.get("content", "")))
        messages.append(Message("assistant", strip_citations(assistant.get("content", ""))))
    return messages


def _weekday(now: datetime) -> str:
    return now.strftime("%A")


# --- megrez ------------------------------------------------------------------------------------


def megrez_system_prompt(now: datetime, *, search: bool) -> str:
    """Role line, time line and (search on) the function schema, newline-separated."""
    lines = [
        template("megrez", "role"),
        render("megrez", "time", time=now.strftime("%Y-%m-%d %H:%M:%S"), weekday=_weekday(now)),
    ]
    if search:
        schema = json.dumps(web_search_function(), ensure_ascii=False, indent=4)
        lines.append(render("megrez", "functions", functions=schema))
    return "\n".join(lines)


def megrez_messages(
    now: datetime, history: Sequence[Message], user: Message, *, search: bool
) -> list[Message]:
    """The conversation as Megrez sees it before deciding (search on) or answering (off)."""
    return [Message("system", megrez_system_prompt(now, search=search)), *history, user]


def megrez_call(query: str) -> str:
    """The assistant turn of a search call, exactly as the model emits it."""
    return render_function_call(WEB_SEARCH, {"query": query})


def megrez_observation(question: str, keywords: str, contexts: Sequence[Context]) -> str:
    body = "\n".join(
        render("megrez", "context", n=c["n"], title=c["title"], text=c["text"]) for c in contexts
    )
    return render("megrez", "observation", question=question, keywords=keywords, contexts=body)


# --- generic -----------------------------------------------------------------------------------


def generic_system(name: str, now: datetime) -> str:
    date_line = render("generic", "time", date=now.strftime("%Y-%m-%d"), weekday=_weekday(now))
    return f"{template('generic', name)}\n{date_line}"


def generic_sources(contexts: Sequence[Context]) -> str:
    return "\n\n".join(
        render("generic", "source", n=c["n"], title=c["title"], text=c["text"]) for c in contexts
    )


def generic_decide_messages(user_text: str) -> list[Message]:
    return [Message("system", template("generic", "decide_system")), Message("user", user_text)]


def generic_decide_options() -> tuple[str, str]:
    """(search, answer): the two reply openings whose likelihoods decide."""
    return template("generic", "decide_search"), template("generic", "decide_answer")
