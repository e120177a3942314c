"""Where a searched answer's time goes: per-step medians on each dev set, and the wait of a
question asked right after an answer.

Every question runs through the agent with search ON over its set's corpus (served on
loopback, as `megrez-search eval` does), one run. The agent's own events give the times:
the steps' `timings` (decide, query, search, fetch, select), the `SourcesEvent` (the source
cards could show), the first `TokenEvent` (first word) and the end (done); prefill is the
answer step's start to its first token — the model reading its prompt. Medians are over the
questions that took each step; "decide, first turn" over the searched questions with no
earlier turns.

Then, per set, the second question: its first question is asked, the follow-up suggestions
start as the UI starts them, and the second question is sent at once in the same chat. Its
wait is how long a model call begun before it was sent (the follow-ups) still held the model
after the send: 0 when the follow-ups gave way before the question needed the model.

    python -m benchmarks latency --eval-dir ../shared/eval
    python -m benchmarks latency --eval-dir ../shared/eval --sets dev --limit 5
    python -m benchmarks latency --limit 1 --model embedded:tiny --corpus dev=/tmp/pages
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from agent.api import AskRequest, SearchAgent
from agent.events import DoneEvent, SourcesEvent, StepEvent, TokenEvent
from benchmarks.eval_all import DevSet, add_dev_set_arguments, chosen_sets, dev_set_settings
from core.settings import Settings
from evaluation.dataset import Question, load_questions
from evaluation.runner import corpus_environment
from runtime import ChatModel, Choice, Message, Runtime, Sampling, Usage, load_runtime
from wiring import search_agent

log = logging.getLogger("benchmarks.latency")

#: (column, the agent's step timing it reads); the derived columns follow them.
STEP_COLUMNS = (
    ("decide", "decide"),
    ("query", "rewrite"),
    ("search", "search"),
    ("fetch", "fetch"),
    ("select", "rank"),
)
#: The decide step of the searched questions with no earlier turns: issue 24's "warm decision
#: for a question with no earlier turns" (a follow-up's decision reads its earlier turns too).
FIRST_TURN_DECIDE = "decide, first turn"
COLUMNS = (
    *(name for name, _ in STEP_COLUMNS),
    FIRST_TURN_DECIDE,
    "sources",
    "prefill",
    "first token",
    "done",
)


class CallClock(ChatModel):
    """A `ChatModel` that records when each of the wrapped model's calls started and ended
    (ended: its stream closed, so the backend let go of the model)."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.name, self.dialect, self.modalities = inner.name, inner.dialect, inner.modalities
        self.calls: list[tuple[float, float]] = []
        #: Set when a call starts using the model.
        self.busy = threading.Event()
        self._lock = threading.Lock()

    def _record(self, started: float) -> None:
        with self._lock:
            self.calls.append((started, time.perf_counter()))

    def stream(
        self, messages: Sequence[Message], sampling: Sampling, usage: Usage | None = None
    ) -> Iterator[str]:
        started = time.perf_counter()
        self.busy.set()
        inner = self.inner.stream(messages, sampling, usage)
        try:
            yield from inner
        finally:
            inner.close()  # type: ignore[attr-defined]
            self._record(started)

    def choose(
        self, messages: Sequence[Message], options: Sequence[str], usage: Usage | None = None
    ) -> Choice:
        started = time.perf_counter()
        self.busy.set()
        try:
            return self.inner.choose(messages, options, usage)
        finally:
            self._record(started)

    def prefill(self, messages: Sequence[Message], until: str = "") -> None:
        started = time.perf_counter()
        self.busy.set()
        try:
            self.inner.prefill(messages, until)
        finally:
            self._record(started)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self.inner.close()

    def held_after(self, moment: float) -> float:
        """Seconds the model stayed busy after `moment` with calls begun before it."""
        with self._lock:
            ends = [end for start, end in self.calls if start < moment]
        return max([0.0, *(end - moment for end in ends)])


@dataclass
class Timed:
    """One question's figures, in seconds from sending it (None: the step did not run)."""

    figures: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None


def ask(agent: SearchAgent, request: AskRequest) -> tuple[Timed, str]:
    """Ask `request`, timing its events; returns the figures and the chat's thread id."""
    started = time.perf_counter()
    answer_started = sources = first_token = None
    thread_id = ""
    timed = Timed()
    for event in agent.stream(request):
        now = time.perf_counter() - started
        if isinstance(event, StepEvent) and event.step == "answer":
            answer_started = now
        elif isinstance(event, SourcesEvent) and sources is None:
            sources = now
        elif isinstance(event, TokenEvent) and first_token is None:
            first_token = now
        elif isinstance(event, DoneEvent):
            result = event.result
            thread_id = result.thread_id
            timed.error = result.error
            timings = result.timings
            timed.figures = {name: timings.get(step) for name, step in STEP_COLUMNS}
            timed.figures["done"] = timings.get("total")
            if result.searched and not request.history and not request.thread_id:
                timed.figures[FIRST_TURN_DECIDE] = timings.get("decide")
    timed.figures["sources"] = sources
    timed.figures["first token"] = first_token
    prefill = None
    if answer_started is not None and first_token is not None and first_token > answer_started:
        prefill = first_token - answer_started
    timed.figures["prefill"] = prefill
    return timed, thread_id


def request_for(question: Question, thread_id: str | None = None) -> AskRequest:
    return AskRequest(
        question=question.question,
        search=True,
        history=[] if thread_id else question.history_messages(),
        thread_id=thread_id,
    )


def second_question_wait(
    agent: SearchAgent, clock: CallClock, first: Question, second: Question
) -> float:
    """Ask `first`, start its follow-up suggestions as the UI does, ask `second` in the same
    chat as soon as they use the model; the seconds they held it after `second` was sent."""
    _, thread_id = ask(agent, request_for(first))
    clock.busy.clear()
    followups = threading.Thread(target=agent.followups, args=(thread_id,), daemon=True)
    followups.start()
    clock.busy.wait(timeout=60)
    sent = time.perf_counter()
    ask(agent, request_for(second, thread_id))
    followups.join()
    agent.delete_thread(thread_id)
    return clock.held_after(sent)


@dataclass
class SetLatency:
    dev_set: DevSet
    questions: int = 0
    medians: dict[str, float | None] = field(default_factory=dict)
    errors: int = 0
    second_wait_s: float | None = None
    skipped: str | None = None


def median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def run_set(
    dev_set: DevSet, eval_dir: Path, settings: Settings, runtime: Runtime, limit: int | None
) -> SetLatency:
    path = eval_dir / dev_set.questions
    if not path.is_file():
        return SetLatency(dev_set, skipped=f"question file not found: {path}")
    if not dev_set.corpus.is_dir():
        return SetLatency(dev_set, skipped=f"corpus not installed: {dev_set.corpus}")
    questions = load_questions(path, limit)
    clock = runtime.model
    assert isinstance(clock, CallClock)
    timed: list[Timed] = []
    progress = sys.stderr.isatty()
    with (
        corpus_environment(settings, dev_set.corpus, progress) as (run_settings, _),
        search_agent(run_settings, runtime) as agent,
    ):
        for question in tqdm(questions, desc=dev_set.name, unit="q", disable=not progress):
            figures, thread_id = ask(agent, request_for(question))
            agent.delete_thread(thread_id)
            timed.append(figures)
        # Two questions without earlier turns, so the second's wait is the follow-ups' alone.
        fresh = [question for question in questions if not question.history] or questions
        wait = second_question_wait(agent, clock, fresh[0], fresh[1 % len(fresh)])
    medians = {column: median([t.figures.get(column) for t in timed]) for column in COLUMNS}
    errors = sum(1 for t in timed if t.error)
    return SetLatency(dev_set, len(questions), medians, errors, wait)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def report(outcomes: list[SetLatency], model: str, command: str, load: str) -> str:
    lines = [
        (
            f"Latency, model `{model}`, search ON, one run (`{command}`); load average before: "
            f"{load} on {os.cpu_count()} CPUs. Medians in seconds from sending the question:"
        ),
        "",
        "| set | questions | " + " | ".join(COLUMNS) + " | next question waits |",
        "|---|---:|" + "---:|" * (len(COLUMNS) + 1),
    ]
    for outcome in outcomes:
        name = outcome.dev_set.name
        if outcome.skipped is not None:
            lines.append(f"| {name} | skipped: {outcome.skipped} |")
            continue
        figures = " | ".join(_fmt(outcome.medians.get(column)) for column in COLUMNS)
        wait = _fmt(outcome.second_wait_s)
        lines.append(f"| {name} | {outcome.questions} | {figures} | {wait} |")
    lines += [
        "",
        (
            "decide ... select: the steps' own durations (decide, first turn: of the searched"
            " questions with no earlier turns); sources, first token, done: from sending;"
            " prefill: the answer step's start to its first token. Next question waits: how long"
            " the follow-up suggestions held the model after a second question was sent."
        ),
    ]
    failed = [f"{o.dev_set.name}: {o.errors}" for o in outcomes if o.errors]
    if failed:
        lines.append(f"Questions that ended in an error: {', '.join(failed)}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks latency", description=__doc__.splitlines()[0]
    )
    add_dev_set_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    chosen = chosen_sets(args)
    settings = dev_set_settings(args)
    command = " ".join(["python -m benchmarks latency", *(argv or [])])
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    runtime = load_runtime(settings)
    runtime.model = CallClock(runtime.model)
    # Warm-up outside the figures: the model's load and first-call allocations.
    runtime.complete([Message("user", "Hi")], Sampling(max_tokens=4))
    outcomes = [
        run_set(dev_set, args.eval_dir, settings, runtime, args.limit) for dev_set in chosen
    ]
    text = report(outcomes, settings.runtime.model, command, load)
    print(text)
    return 0 if any(outcome.skipped is None for outcome in outcomes) else 1
