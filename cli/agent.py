"""`megrez-search ask`: one question through the whole agent (decide, search, read, answer).

Plain output streams the answer as it is written, then the numbered sources; status lines
("Searching: …") go to stderr. `--json` prints one object (the schema of `AskResult.to_json`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from core.errors import MegrezSearchError
from core.settings import Settings
from wiring import search_agent

from . import SettingsFromArgs


class AskFailed(MegrezSearchError):
    """The question was taken but could not be answered (the message says why)."""


def register(
    subparsers: argparse._SubParsersAction,
    settings_from_args: SettingsFromArgs,
) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="ask a question: searches the web (or an index) when useful and cites sources",
        description="Ask one question. With search on (the default) the model decides whether "
        "to search; the answer cites numbered sources. Use --thread to continue a "
        "conversation (its id is printed after each answer).",
    )
    parser.add_argument("question", nargs="?", default="", metavar="QUESTION")
    parser.add_argument(
        "--search",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="allow web search (default: on); --no-search never searches",
    )
    parser.add_argument(
        "--provider", help="search provider chain, e.g. 'ddg' or 'local:docs' (env MEGREZ_SEARCH)"
    )
    parser.add_argument(
        "--pages", type=int, help="pages to read for this question (default: MEGREZ_PAGES, 5)"
    )
    parser.add_argument(
        "--deep",
        action="store_true",
        help="deep mode: plan sub-questions, research them in rounds, answer with sections "
        "(slower; budgets MEGREZ_DEEP_MAX_ROUNDS, MEGREZ_DEEP_TIME_BUDGET_S)",
    )
    parser.add_argument("--thread", help="continue the conversation with this thread id")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--image", type=Path, help="attach an image (its text is read)")
    parser.add_argument("--audio", type=Path, help="ask by voice: a WAV/MP3/OGG/FLAC clip")
    parser.add_argument(
        "--collection",
        action="append",
        dest="collections",
        metavar="NAME",
        help="search this collection of files too (`index SOURCE --collection NAME`); "
        "repeatable; a continued --thread keeps its collections",
    )
    parser.set_defaults(handler=lambda args: run_ask(args, settings_from_args(args)))


def research_line(event: object) -> str | None:
    """Deep mode's progress as one status line (None for other events)."""
    from agent.events import NoteEvent, PlanEvent, ReflectEvent, ResearchEvent

    if isinstance(event, PlanEvent):
        items = "".join(f"\n    - {text}" for text in event.subquestions)
        return f"» round {event.round}: {len(event.subquestions)} sub-questions{items}"
    if isinstance(event, ResearchEvent):
        read = sum(1 for page in event.pages if page.get("ok"))
        return f"  · {event.query}: {read} of {len(event.pages)} pages read"
    if isinstance(event, NoteEvent):
        return f"  · note: {event.subquestion[:60]} -> {len(event.sources)} source(s)"
    if isinstance(event, ReflectEvent):
        return f"» reflect (round {event.round}): {event.reason}"
    return None


def run_ask(
    args: argparse.Namespace,
    settings: Settings,
    *,
    agent: object | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Handle `ask`; `agent` (a SearchAgent) may be passed in by tests and embedders."""
    from agent.api import AskRequest, SearchAgent
    from agent.events import (
        AnswerEvent,
        DoneEvent,
        ErrorEvent,
        PrefillEvent,
        StepEvent,
        TokenEvent,
    )

    out = out or sys.stdout
    err = err or sys.stderr
    request = AskRequest(
        question=args.question or "",
        thread_id=args.thread,
        search=args.search,
        max_pages=args.pages,
        deep=args.deep,
        image=args.image,
        audio=args.audio,
        collections=args.collections,
    )
    owned = agent is None
    asked: SearchAgent = agent or search_agent(settings)  # type: ignore[assignment]
    try:
        streamed: list[str] = []
        live = not args.json and out.isatty()
        result = None
        reading_open = False  # a live "Reading the sources" line still without its newline
        reading_shown = False

        def end_reading_line() -> None:
            nonlocal reading_open
            if reading_open:
                err.write("\n")
                err.flush()
                reading_open = False

        def status(line: str) -> None:
            end_reading_line()
            # Step lines and the answer share the terminal: a step that comes after the answer
            # began streaming starts on a line of its own.
            if live and streamed and not "".join(streamed).endswith("\n"):
                streamed.append("\n")
                out.write("\n")
                out.flush()
            print(f"» {line}", file=err, flush=True)

        def show_reading(event: PrefillEvent) -> None:
            # On a CPU, the model reading its sources is most of the wait: a terminal sees it
            # as one line counting up; a log or a pipe gets one line.
            nonlocal reading_open, reading_shown
            if not err.isatty():
                if not reading_shown:
                    status(f"Reading the sources ({event.total} tokens)")
                reading_shown = True
                return
            percent = 100 * event.done // max(event.total, 1)
            err.write(f"\r» Reading the sources · {percent}% of {event.total} tokens")
            err.flush()
            reading_open = True
            if event.done >= event.total:
                end_reading_line()

        for event in asked.stream(request):
            if isinstance(event, DoneEvent):
                result = event.result
            elif args.json:
                continue
            elif isinstance(event, StepEvent):
                status(event.label)
            elif isinstance(event, PrefillEvent):
                show_reading(event)
            elif isinstance(event, TokenEvent) and live:
                end_reading_line()
                streamed.append(event.text)
                out.write(event.text)
                out.flush()
            elif (
                isinstance(event, AnswerEvent)
                and live
                and "".join(streamed).strip() != event.answer
            ):
                # Citations were repaired (or unsupported sentences removed) after streaming:
                # show the checked answer.
                out.write("\n\nChecked against the sources:\n" + event.answer)
            elif isinstance(event, ErrorEvent):
                status(event.message)
            elif (line := research_line(event)) is not None:
                status(line.removeprefix("» "))
        assert result is not None
    finally:
        if owned:
            asked.close()

    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False), file=out)
    else:
        if not live and result.answer:
            out.write(result.answer)
        out.write("\n")
        if result.sources:
            out.write("\nSources:\n")
            for source in result.sources:
                out.write(f"[{source['n']}] {source['title']} — {source['url']}\n")
        print(f"(thread {result.thread_id}: continue with --thread {result.thread_id})", file=err)
    if result.error:
        raise AskFailed(result.error)
    return 0
