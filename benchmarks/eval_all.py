"""`python -m benchmarks eval-all`: the generalisation report, every dev set over its corpus.

Each set runs through the evaluation runner (`evaluation`, the agent with
search ON over its corpus served on loopback, as `megrez-search eval` does), and one table
compares them: decision, retrieval recall, context recall, answer accuracy, citation
precision (the agent's checker and strict) and the share of answers written in their
question's language per set. Under it, per set, the wrong answers
split by where they went wrong: reading errors (the passages shown held a gold answer),
retrieval errors (they did not) and, for messages that need no search, the model's own
answers.

    make eval-all                                       # every set, the configured model
    python -m benchmarks eval-all --eval-dir ../shared/eval
    python -m benchmarks eval-all --limit 2 --model embedded:tiny --output report.md
    python -m benchmarks eval-all --sets dev-git --eval-dir ../shared/eval
    python -m benchmarks eval-all --corpus dev-git=/tmp/git-pages   # another folder for a set

A set whose question file or corpus is missing is reported as skipped; the others run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import KW_ONLY, dataclass, field, replace
from pathlib import Path

from core.errors import MegrezSearchError
from core.settings import Settings, get_settings
from evaluation.dataset import load_questions
from evaluation.runner import DOCS_CORPUS, EvalRun, evaluate

log = logging.getLogger("benchmarks.eval_all")
GIT_MANUAL = Path("/usr/share/doc/git-doc")  # Debian's git-doc: asciidoc HTML


@dataclass(frozen=True)
class DevSet:
    name: str
    questions: str  # file name inside the evaluation folder
    corpus: Path  # the folder of pages its gold_pages are relative to


# Every dev set and its corpus, in one place.
DEV_SETS: tuple[DevSet, ...] = (
    DevSet("dev", "dev.jsonl", DOCS_CORPUS),
    DevSet("dev-git", "dev-git.jsonl", GIT_MANUAL),
    DevSet("dev-zh", "dev-zh.jsonl", DOCS_CORPUS),
)

COLUMNS = (
    ("decision", "decision_accuracy"),
    ("retrieval recall", "retrieval_recall"),
    ("context recall", "context_recall"),
    ("answer", "answer_accuracy"),
    ("citations the checker upholds", "citation_precision"),
    ("strict citation precision", "strict_citation_precision"),
    ("answers in the question's language", "answer_language_match"),
)


@dataclass
class SetOutcome:
    dev_set: DevSet
    run: EvalRun | None = None
    # The rest by name only: three lists of ids in a row are easily passed in the wrong order.
    _: KW_ONLY
    skipped: str | None = None  # why the set did not run
    reading_errors: list[str] = field(default_factory=list)
    retrieval_errors: list[str] = field(default_factory=list)
    unsearched_errors: list[str] = field(default_factory=list)  # messages needing no search


def wrong_answers(run: EvalRun) -> tuple[list[str], list[str], list[str]]:
    """(reading errors, retrieval errors, the rest): ids of wrong answers whose passages held
    a gold answer, of those whose passages did not (or that never searched), and of wrong
    answers to messages that need no search ("translate 'thank you' into Spanish"): no
    passage was wanted, so neither the reading of sources nor retrieval is at fault."""
    reading: list[str] = []
    retrieval: list[str] = []
    unsearched: list[str] = []
    for record in run.records:
        score = record.score
        if score.answer_correct is not False:
            continue
        if not record.question.needs_search:
            unsearched.append(record.question.id)
        else:
            (reading if score.context_hit else retrieval).append(record.question.id)
    return reading, retrieval, unsearched


def corpus_overrides(pairs: list[str], names: list[str]) -> dict[str, Path]:
    overrides = {}
    for pair in pairs:
        name, _, folder = pair.partition("=")
        if name not in names or not folder:
            raise SystemExit(f"error: --corpus takes SET=DIR with SET one of {', '.join(names)}")
        overrides[name] = Path(folder)
    return overrides


def add_dev_set_arguments(parser: argparse.ArgumentParser) -> None:
    """--sets, --eval-dir, --limit, --model, --data-dir and --corpus: which dev sets to run,
    on which model (the benchmarks over all three sets share them)."""
    names = [dev_set.name for dev_set in DEV_SETS]
    parser.add_argument("--sets", default=",".join(names), help=f"of {', '.join(names)}")
    # The question files' folder: by default that of MEGREZ_EVAL_QUESTIONS (`make eval-all`
    # sets it to ../shared/eval/dev.jsonl, as `make bench` does).
    configured = get_settings().evaluation.eval_questions
    parser.add_argument(
        "--eval-dir",
        type=Path,
        default=configured.parent if configured else None,
        required=configured is None,
        help="folder of the question files (default: that of MEGREZ_EVAL_QUESTIONS)",
    )
    parser.add_argument("--limit", type=int, help="only the first N questions of each set")
    parser.add_argument("--model", help="the model to run (default: MEGREZ_MODEL)")
    parser.add_argument("--data-dir", type=Path, help="data dir (corpus indexes are kept here)")
    parser.add_argument(
        "--corpus", action="append", default=[], metavar="SET=DIR", help="another corpus folder"
    )


def chosen_sets(args: argparse.Namespace) -> list[DevSet]:
    """The dev sets `--sets` names, in their order here, on their `--corpus` folders; exits
    with an error for an unknown name."""
    names = [dev_set.name for dev_set in DEV_SETS]
    wanted = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"error: no such dev set: {', '.join(unknown)} (have: {', '.join(names)})")
        raise SystemExit(2)
    corpora = corpus_overrides(args.corpus, names)
    return [replace(d, corpus=corpora.get(d.name, d.corpus)) for d in DEV_SETS if d.name in wanted]


def dev_set_settings(args: argparse.Namespace) -> Settings:
    """The configured settings with `--model` and `--data-dir` applied."""
    updates: dict[str, object] = {"model": args.model} if args.model else {}
    if args.data_dir:
        updates["data_dir"] = args.data_dir
    return get_settings().replace(**updates)


def run_set(dev_set: DevSet, eval_dir: Path, settings: Settings, limit: int | None) -> SetOutcome:
    """One dev set through the evaluation runner; a missing file or corpus skips it."""
    path = eval_dir / dev_set.questions
    if not path.is_file():
        return SetOutcome(dev_set, skipped=f"question file not found: {path}")
    if not dev_set.corpus.is_dir():
        return SetOutcome(dev_set, skipped=f"corpus not installed: {dev_set.corpus}")
    questions = load_questions(path, limit)
    run = evaluate(settings, questions, dev_set.corpus, progress=sys.stderr.isatty())
    reading, retrieval, unsearched = wrong_answers(run)
    return SetOutcome(
        dev_set,
        run,
        reading_errors=reading,
        retrieval_errors=retrieval,
        unsearched_errors=unsearched,
    )


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def report(outcomes: list[SetOutcome], model: str, command: str) -> str:
    """The Markdown report: one table of figures per set, then the wrong answers by cause."""
    head = "| set | corpus | questions | " + " | ".join(label for label, _ in COLUMNS) + " |"
    lines = [
        f"Generalisation report, model `{model}` (`{command}`):",
        "",
        head,
        "|---|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for outcome in outcomes:
        name, corpus = outcome.dev_set.name, outcome.dev_set.corpus
        if outcome.run is None:
            lines.append(f"| {name} | {corpus} | skipped: {outcome.skipped} |")
            continue
        summary = outcome.run.summary
        figures = " | ".join(_fmt(getattr(summary, key)) for _, key in COLUMNS)
        lines.append(f"| {name} | {corpus} | {summary.n} | {figures} |")
    lines += ["", "Wrong answers by cause (question ids):", ""]
    for outcome in outcomes:
        if outcome.run is None:
            continue
        reading = ", ".join(outcome.reading_errors) or "none"
        retrieval = ", ".join(outcome.retrieval_errors) or "none"
        unsearched = ", ".join(outcome.unsearched_errors) or "none"
        lines.append(
            f"- {outcome.dev_set.name}: reading errors (the passages held the answer): "
            f"{reading}; retrieval errors (they did not): {retrieval}; "
            f"no search needed (the model's own answer): {unsearched}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks eval-all", description=__doc__.splitlines()[0]
    )
    add_dev_set_arguments(parser)
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    chosen = chosen_sets(args)
    settings = dev_set_settings(args)
    outcomes = []
    for dev_set in chosen:
        started = time.perf_counter()
        try:
            outcomes.append(run_set(dev_set, args.eval_dir, settings, args.limit))
        except MegrezSearchError as exc:  # a broken question file, an unreadable corpus
            outcomes.append(SetOutcome(dev_set, skipped=str(exc)))
        log.info("%s done in %.0f s", dev_set.name, time.perf_counter() - started)
    command = " ".join(["python -m benchmarks eval-all", *(argv or [])])
    text = report(outcomes, settings.runtime.model, command)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    ran = [outcome for outcome in outcomes if outcome.run is not None]
    return 0 if ran and all(o.run and o.run.summary.errors < o.run.summary.n for o in ran) else 1
