"""One object per prompt protocol: the only place that tells Megrez from other chat models.

- megrez: the InfiniWebSearch protocol Megrez-3B was trained with. System prompt = role
  line + current-time line (+ with search on: the functions line and the pretty-printed
  `googleWebSearch` schema). A search goes back as the model's own function call followed by
  an `observation` turn of `[[citation:N]]` contexts; the model cites `[citation:N]`. It
  decides, plans and reflects by writing `googleWebSearch` calls itself.
- generic: any other chat model, down to a 135M one: short plain instructions; numbered
  sources `[N]` in the user turn; decisions are choices on likelihoods and formats are
  forced by grammars.

A `Dialect` owns everything that differs between them: the messages each step sends (all
wording lives in `prompts/`, this module assembles its pieces), the stop strings, the context
budget, how the model decides to search (agent/decisions.py), plans and reflects in deep
mode. Callers ask the object; none asks which dialect it is. The turn-end stops every
backend adds itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from langgraph.types import StreamWriter

from agent.citation_marks import strip_citations
from agent.decisions import ModelDeps, by_likelihoods, by_search_call
from agent.deep.plan import PLAN_GRAMMAR, parse_json_plan, parse_search_calls
from agent.prompts import render, template, web_search_function
from agent.state import AgentState, Context, Turn
from core.settings import Settings
from runtime import Message, Sampling
from runtime.megrez_format import (
    FUNCTION_END,
    FUNCTION_START,
    STOP,
    parse_function_call,
    render_function_call,
)
from runtime.runtime import IMAGE_NOTE

WEB_SEARCH = "googleWebSearch"
PLAN_MAX_TOKENS = 80
REFLECT_MAX_TOKENS = 160


def sampling_for(settings: Settings, max_tokens: int, stop: tuple[str, ...] = ()) -> Sampling:
    """The one way a step's sampling is made from the settings."""
    return Sampling(
        max_tokens=max_tokens,
        temperature=settings.agent.answer_temperature,
        repetition_penalty=settings.agent.answer_repetition_penalty,
        stop=stop,
    )


@dataclass(frozen=True)
class ModelAsk:
    """One model call a step makes: its messages, its sampling, and how to read the reply."""

    messages: list[Message]
    sampling: Sampling
    parse: Callable[[str], list[str]]


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


def notes_text(notes: Sequence[dict[str, Any]]) -> str:
    """Deep mode's notes as the model reads them: one line per sub-question."""
    return "\n".join(f"- {n['subquestion']}: {n['text'] or '(nothing found)'}" for n in notes)


# --- generic ---------------------------------------------------------------------------------


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


class Dialect:
    """The generic protocol: any chat model, down to a 135M one."""

    name = "generic"
    #: stop strings an answer adds to the backend's own
    answer_stop: tuple[str, ...] = ()
    #: stop strings of deep mode's answer: one paragraph, the direct answer (the sections
    #: carry the detail)
    deep_answer_stop: tuple[str, ...] = ("\n\n",)

    def chat_messages(
        self, now: datetime, history: Sequence[Message], user: Message
    ) -> list[Message]:
        """The conversation for an answer without sources."""
        # A 135M model follows a short prompt best: the image rule only when an image was read.
        prompt = "chat_system_image" if IMAGE_NOTE in user.content else "chat_system"
        return [Message("system", generic_system(prompt, now)), *history, user]

    def answer_messages(
        self,
        now: datetime,
        history: Sequence[Message],
        user: Message,
        query: str,
        contexts: Sequence[Context],
    ) -> list[Message]:
        """The conversation for an answer from the numbered `contexts` found for `query`."""
        # Sources and question in one turn, the question last (see prompts/generic.toml);
        # an attached image or clip stays on the message.
        sources = generic_sources(contexts)
        content = render("generic", "sources_user", sources=sources, question=user.content)
        return [
            Message("system", generic_system("answer_system", now)),
            *history,
            replace(user, content=content),
        ]

    def context_tokens(self, settings: Settings) -> int:
        """Tokens of sources an answer may read."""
        budget = settings.agent.generic_context_tokens
        if budget is not None and budget < settings.retrieval.context_tokens:
            return budget
        return settings.retrieval.context_tokens

    def search_query(self, text: str) -> str | None:
        """The query of a valid search call in `text`; generic models write none."""
        return None

    def decide(
        self,
        state: AgentState,
        history: Sequence[Message],
        user: Message,
        writer: StreamWriter,
        deps: ModelDeps,
    ) -> dict[str, Any]:
        """Search on: whether to search (the decide node's state update)."""
        null_text = template("generic", "decide_null")
        options = generic_decide_options()
        return by_likelihoods(
            state.user_text, generic_decide_messages, options, null_text, writer, deps
        )

    def asks_model_to_plan(self, parts: Sequence[str]) -> bool:
        """Whether deep mode asks the model for sub-questions besides the question's `parts`:
        a small model's proposals are mostly copies of a question that splits on its own."""
        return len(parts) < 2

    def plan_ask(
        self, now: datetime, history: Sequence[Message], question: str, most: int
    ) -> ModelAsk:
        """Deep mode's plan: a JSON list of strings forced by a grammar."""
        messages = [
            Message("system", render("deep", "plan_system", most=most)),
            *history,
            Message("user", render("deep", "plan_user", question=question)),
        ]
        sampling = Sampling(max_tokens=PLAN_MAX_TOKENS, grammar=PLAN_GRAMMAR)
        return ModelAsk(messages, sampling, parse_json_plan)

    def reflect_ask(
        self,
        now: datetime,
        history: Sequence[Message],
        question: str,
        notes: Sequence[dict[str, Any]],
    ) -> ModelAsk | None:
        """Deep mode's own view of what is still missing (None: the model has none; the
        bridges the pages name are searched, in `order_bridges`' order)."""
        return None

    def order_bridges(
        self, bridges: list[str], rank: Callable[[list[str]], list[str]]
    ) -> list[str]:
        """The bridge candidates to search, the likeliest first (`rank` asks the model)."""
        return rank(bridges)


# --- megrez ----------------------------------------------------------------------------------


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


class MegrezDialect(Dialect):
    """The InfiniWebSearch protocol Megrez-3B was trained with."""

    name = "megrez"
    # One search per turn: a second call in an answer is cut off rather than shown.
    answer_stop = (FUNCTION_START,)
    deep_answer_stop = answer_stop

    def chat_messages(
        self, now: datetime, history: Sequence[Message], user: Message
    ) -> list[Message]:
        return megrez_messages(now, history, user, search=False)

    def answer_messages(
        self,
        now: datetime,
        history: Sequence[Message],
        user: Message,
        query: str,
        contexts: Sequence[Context],
    ) -> list[Message]:
        """Search-on conversation + the model's call + the observation with the contexts."""
        return [
            *megrez_messages(now, history, user, search=True),
            Message("assistant", megrez_call(query)),
            Message("observation", megrez_observation(user.content, query, contexts)),
        ]

    def context_tokens(self, settings: Settings) -> int:
        return settings.retrieval.context_tokens

    def decide_messages(
        self, now: datetime, history: Sequence[Message], user: Message
    ) -> list[Message]:
        """Search on: the model answers directly or writes a `googleWebSearch` call."""
        return megrez_messages(now, history, user, search=True)

    def search_query(self, text: str) -> str | None:
        call = parse_function_call(text)
        arguments = call.get("arguments", {}) if call else {}
        query = arguments.get("query") if isinstance(arguments, dict) else None
        if call and call.get("name") == WEB_SEARCH and isinstance(query, str):
            return query
        return None

    def decide(
        self,
        state: AgentState,
        history: Sequence[Message],
        user: Message,
        writer: StreamWriter,
        deps: ModelDeps,
    ) -> dict[str, Any]:
        """The model answers at once (streamed) or calls `googleWebSearch` itself."""
        messages = self.decide_messages(deps.clock(), history, user)
        settings = deps.settings
        sampling = sampling_for(settings, settings.agent.chat_max_tokens, (FUNCTION_END,))
        return by_search_call(messages, sampling, self.search_query, writer, deps, state.run_id)

    def asks_model_to_plan(self, parts: Sequence[str]) -> bool:
        return True  # Megrez plans itself

    def _search_ask(
        self, now: datetime, history: Sequence[Message], text: str, max_tokens: int
    ) -> ModelAsk:
        system = megrez_system_prompt(now, search=True)
        messages = [Message("system", system), *history, Message("user", text)]
        return ModelAsk(messages, Sampling(max_tokens=max_tokens, stop=STOP), parse_search_calls)

    def plan_ask(
        self, now: datetime, history: Sequence[Message], question: str, most: int
    ) -> ModelAsk:
        """Its native protocol: one `googleWebSearch` call per sub-question."""
        text = render("deep", "megrez_plan", most=most, question=question)
        return self._search_ask(now, history, text, PLAN_MAX_TOKENS * 2)

    def reflect_ask(
        self,
        now: datetime,
        history: Sequence[Message],
        question: str,
        notes: Sequence[dict[str, Any]],
    ) -> ModelAsk | None:
        """Its new queries as `googleWebSearch` calls ("enough" or no call: nothing)."""
        text = render("deep", "megrez_reflect", question=question, notes=notes_text(notes))
        return self._search_ask(now, history, text, REFLECT_MAX_TOKENS)

    def order_bridges(
        self, bridges: list[str], rank: Callable[[list[str]], list[str]]
    ) -> list[str]:
        return bridges  # its reflection already said what to search; these are a fallback


GENERIC = Dialect()
MEGREZ = MegrezDialect()


def dialect_for(name: str) -> Dialect:
    """The dialect object of a runtime's chat format ("megrez" or "generic")."""
    return MEGREZ if name == MEGREZ.name else GENERIC
