"""One object per prompt protocol: the only place that tells Megrez from other chat models.

A `Dialect` owns what differs between them: the messages each step sends (put together from
the pieces agent/dialects.py renders from prompts/), the stop strings the answer adds, the
context budget and how the model asks for a search (Megrez writes a function call; a generic
model is asked to choose, see nodes/decide.py). The turn-end stops every backend adds itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from megrez_search.agent.dialects import (
    WEB_SEARCH,
    generic_sources,
    generic_system,
    megrez_call,
    megrez_messages,
    megrez_observation,
)
from megrez_search.agent.prompts import render
from megrez_search.agent.state import Context

from megrez_search.runtime import Message, Sampling
from megrez_search.runtime.megrez_format import FUNCTION_START, parse_function_call
from megrez_search.runtime.runtime import IMAGE_NOTE
from megrez_search.settings import Settings


def sampling_for(settings: Settings, max_tokens: int, stop: tuple[str, ...] = ()) -> Sampling:
    """The one way a step's sampling is made from the settings."""
    return Sampling(
        max_tokens=max_tokens,
        temperature=settings.answer_temperature,
        repetition_penalty=settings.answer_repetition_penalty,
        stop=stop,
    )


class Dialect:
    """The generic protocol: any chat model, down to a 135M one."""

    name = "generic"
    #: stop strings an answer adds to the backend's own
    answer_stop: tuple[str, ...] = ()
    #: whether the model calls tools itself (Megrez's `googleWebSearch` protocol); otherwise
    #: decisions are choices on likelihoods and formats are forced by grammars
    native_function_calls = False

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
        budget = settings.generic_context_tokens
        if budget is not None and budget < settings.context_tokens:
            return budget
        return settings.context_tokens

    def search_query(self, text: str) -> str | None:
        """The query of a valid search call in `text`; generic models write none."""
        return None


class MegrezDialect(Dialect):
    """The InfiniWebSearch protocol Megrez-3B was trained with (see agent/dialects.py)."""

    name = "megrez"
    native_function_calls = True
    # One search per turn: a second call in an answer is cut off rather than shown.
    answer_stop = (FUNCTION_START,)

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
        return settings.context_tokens

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


GENERIC = Dialect()
MEGREZ = MegrezDialect()


def dialect_for(name: str) -> Dialect:
    """The dialect object of a runtime's dialect name ("megrez" or "generic")."""
    return MEGREZ if name == MEGREZ.name else GENERIC
