"""Questions over files given as sources: does the agent find the right page and answer?

Two PDFs made here (no PDF library: tests/support/documents.make_pdf) hold known facts on
known pages, among pages of similar wording. Both go into one collection of the local user;
each question is asked in a new conversation with that collection attached and web search
off, so the files are searched alone, as the agent does for a user's files. Per question:

- retrieval recall: the gold page is among the pages the file search returns (top 5);
- source recall: the gold page is among the sources the model was shown;
- context recall: an answer string is in the passages the model was shown;
- answer accuracy: an answer string is in the answer;
- cited: the answer cites the gold page's source.

    .venv/bin/python -m benchmarks.bench_documents [--model embedded] [--limit N]
    .venv/bin/python -m benchmarks.bench_documents --retrieval-only   # no model: seconds
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agent.api import AskRequest
from agent.documents import FileProvider, FileScope, read_file
from core.settings import Settings
from store import LOCAL_USER
from tests.support.documents import make_pdf
from wiring import document_limits, search_agent

HANDBOOK = [
    [
        "Northwind Tools employee handbook.",
        "This handbook covers hours, leave, expenses,",
        "equipment and family leave. Ask the people team about anything it does not cover.",
    ],
    [
        "Working hours.",
        "The office opens at 7:30 and closes at 19:00.",
        "Core hours, when everyone is expected to be available, are 10:00 to 15:00.",
        "Hours outside the core are arranged with your team.",
    ],
    [
        "Holidays and leave.",
        "Employees get 27 days of paid leave per year.",
        "Up to 5 unused days can be carried over to the next year; the rest expire in March.",
        "Public holidays are not counted as leave days.",
    ],
    [
        "Expenses.",
        "Expense claims must be filed within 30 days of the purchase.",
        "Hotels are reimbursed up to 140 euros per night; meals up to 45 euros per day.",
        "Claims without receipts are not reimbursed.",
    ],
    [
        "Equipment.",
        "Every employee gets a laptop, replaced every 4 years.",
        "The IT desk is on floor 3 and opens at 8:00.",
        "Lost equipment is reported within a day.",
    ],
    [
        "Family leave.",
        "Parental leave is 16 weeks at full pay, for every parent.",
        "It can be taken in up to three blocks within two years of the birth or adoption.",
    ],
]
REPORT = [
    [
        "Corrosion of three steel alloys in sea water: a laboratory study.",
        "Summary: alloys A, B and C were tested for the harbour bridge renovation.",
    ],
    [
        "Method.",
        "Samples of each alloy were immersed in a 3.5% saline solution for 42 days.",
        "Each sample was weighed and measured before and after immersion.",
    ],
    [
        "Results.",
        "Alloy A lost 0.5 mm of thickness, alloy B lost 0.8 mm,",
        "and alloy C lost 0.2 mm, the least of the three.",
    ],
    [
        "Conditions.",
        "The solution was kept at 35 degrees Celsius and stirred once a day.",
        "The solution was replaced every week to keep its salinity constant.",
    ],
    [
        "Conclusion.",
        "Alloy C is recommended for the harbour bridge renovation.",
        "Alloy B should not be used in the splash zone.",
    ],
]


@dataclass(frozen=True)
class FileQuestion:
    question: str
    answers: tuple[str, ...]  # any of them, case-insensitive, in the answer counts
    file: str
    page: int


QUESTIONS = [
    FileQuestion(
        "What are the core working hours at Northwind Tools?",
        ("10:00", "10 am", "10am"),
        "handbook.pdf",
        2,
    ),
    FileQuestion(
        "How many days of paid leave do employees get per year?", ("27",), "handbook.pdf", 3
    ),
    FileQuestion(
        "How many unused leave days can be carried over?", ("5", "five"), "handbook.pdf", 3
    ),
    FileQuestion(
        "Within how many days must expense claims be filed?", ("30", "thirty"), "handbook.pdf", 4
    ),
    FileQuestion("Up to how much is a hotel reimbursed per night?", ("140",), "handbook.pdf", 4),
    FileQuestion(
        "How often are employees' laptops replaced?", ("4 years", "four years"), "handbook.pdf", 5
    ),
    FileQuestion("How long is parental leave?", ("16 weeks", "sixteen weeks"), "handbook.pdf", 6),
    FileQuestion(
        "For how many days were the alloy samples immersed?", ("42",), "corrosion-study.pdf", 2
    ),
    FileQuestion("How much thickness did alloy C lose?", ("0.2",), "corrosion-study.pdf", 3),
    FileQuestion(
        "At what temperature was the saline solution kept?", ("35",), "corrosion-study.pdf", 4
    ),
    FileQuestion(
        "Which alloy is recommended for the harbour bridge?", ("alloy c",), "corrosion-study.pdf", 5
    ),
]


@dataclass
class Outcome:
    question: FileQuestion
    retrieved: bool
    shown: bool
    context: bool
    correct: bool
    cited: bool
    seconds: float
    answer: str


def _has(text: str, answers: tuple[str, ...]) -> bool:
    lowered = " ".join(text.lower().split())
    return any(re.search(rf"(?<![\w.]){re.escape(a.lower())}(?![\w])", lowered) for a in answers)


def run(settings: Settings, questions: list[FileQuestion]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with search_agent(settings) as agent:
        limits = document_limits(settings)
        for name, pages in (("handbook.pdf", HANDBOOK), ("corrosion-study.pdf", REPORT)):
            agent.documents.add(
                LOCAL_USER, read_file(name, make_pdf(pages), limits), collection="bench"
            )
        files = FileProvider(agent.documents, FileScope(LOCAL_USER, None, ("bench",)))
        for item in questions:
            found = files.search(item.question, max_results=5).results
            retrieved = any(r.title == f"{item.file}, p. {item.page}" for r in found)
            started = time.perf_counter()
            result = agent.invoke(AskRequest(item.question, search=False, collections=["bench"]))
            seconds = time.perf_counter() - started
            gold = [
                s["n"]
                for s in result.sources
                if s.get("file_name") == item.file and s.get("page") == item.page
            ]
            outcomes.append(
                Outcome(
                    item,
                    retrieved,
                    bool(gold),
                    any(_has(text, item.answers) for text in result.passages),
                    _has(result.answer, item.answers),
                    bool(set(gold) & set(result.citations)),
                    seconds,
                    result.answer,
                )
            )
    return outcomes


def retrieval_only(settings: Settings, questions: list[FileQuestion]) -> str:
    """Recall of the file search alone (no model): the gold page first, and in the top 5."""
    from store import DocumentStore, open_database

    database = open_database(settings.store)
    try:
        store = DocumentStore(database)
        limits = document_limits(settings)
        for name, pages in (("handbook.pdf", HANDBOOK), ("corrosion-study.pdf", REPORT)):
            store.add(LOCAL_USER, read_file(name, make_pdf(pages), limits), collection="bench")
        files = FileProvider(store, FileScope(LOCAL_USER, None, ("bench",)))
        ranks = []
        for item in questions:
            titles = [r.title for r in files.search(item.question, max_results=5).results]
            gold = f"{item.file}, p. {item.page}"
            ranks.append(titles.index(gold) + 1 if gold in titles else None)
    finally:
        database.close()
    first = sum(rank == 1 for rank in ranks)
    top5 = sum(rank is not None for rank in ranks)
    return (
        f"File search alone ({len(ranks)} questions): gold page first {first}/{len(ranks)}, "
        f"in the top 5 {top5}/{len(ranks)}; ranks {ranks}"
    )


def report(model: str, outcomes: list[Outcome]) -> str:
    count = len(outcomes) or 1

    def share(flag: str) -> str:
        hits = sum(getattr(o, flag) for o in outcomes)
        return f"{hits}/{len(outcomes)} = {hits / count:.2f}"

    lines = [
        f"Questions over files ({len(outcomes)} questions, model {model}, files only):",
        "",
        (
            "| retrieval recall@5 | source recall | context recall | answer accuracy "
            "| gold page cited | median s |"
        ),
        "|---|---|---|---|---|---:|",
        (
            f"| {share('retrieved')} | {share('shown')} | {share('context')} | {share('correct')} "
            f"| {share('cited')} | {sorted(o.seconds for o in outcomes)[len(outcomes) // 2]:.1f} |"
        ),
        "",
        "| question | page | found | shown | right | cited | answer |",
        "|---|---:|---|---|---|---|---|",
    ]
    for o in outcomes:
        answer = " ".join(o.answer.split())[:90].replace("|", "/")
        lines.append(
            f"| {o.question.question} | {o.question.page} | {'y' if o.retrieved else '-'} "
            f"| {'y' if o.shown else '-'} | {'y' if o.correct else '-'} "
            f"| {'y' if o.cited else '-'} | {answer} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded", help="model spec (default: embedded)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--data-dir", type=Path, help="data dir (default: a fresh temporary one)")
    parser.add_argument(
        "--retrieval-only", action="store_true", help="the file search alone, no model"
    )
    args = parser.parse_args(argv)
    questions = QUESTIONS[: args.limit] if args.limit else QUESTIONS
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=args.data_dir or Path(tmp), model=args.model, search="local:none"
        )
        if args.retrieval_only:
            text = retrieval_only(settings, questions)
        else:
            text = report(args.model, run(settings, questions))
    print(text)
    return text


if __name__ == "__main__":
    main()
