"""`make bench` = `python -m benchmarks`: run every benchmark in this folder, one after another.

A benchmark is a module `benchmarks/bench_*.py` with a top-level `main(argv)` that prints
its figures as Markdown (and returns them). Each runs in a process of its own, so one
benchmark's models and threads cannot skew or crash the next; a failure is reported and the
others still run.

    python -m benchmarks                     # all of them
    python -m benchmarks pipeline baseline   # only bench_pipeline.py and bench_baseline.py
    python -m benchmarks gpu                 # in-process transformers runtime on a CUDA GPU
                                             # (bench_gpu.py; notes it and exits elsewhere)
    python -m benchmarks gpu --cpu-smoke     # options it does not know go to the benchmarks
    python -m benchmarks --list
    python -m benchmarks --output bench.md   # also collect every benchmark's output in a file
    python -m benchmarks eval-all            # the generalisation report: every dev set over
                                             # its corpus, one table (eval_all.py)

Figures worth keeping go to benchmarks/RESULTS.md by hand, with the command that made them.
"""

from __future__ import annotations

import argparse
import ast
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("benchmarks")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover(folder: Path = HERE) -> list[str]:
    """Names ("bench_x") of the benchmark modules in `folder` that define a top-level main().

    Read with `ast`, not imported: importing would load every benchmark's heavy libraries.
    """
    names = []
    for path in sorted(folder.glob("bench_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except SyntaxError as exc:
            log.warning("skipping %s: %s", path.name, exc)
            continue
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            names.append(path.stem)
    return names


@dataclass
class Outcome:
    name: str
    returncode: int
    seconds: float
    output: str


def run_one(name: str, extra: list[str]) -> Outcome:
    """Run benchmark `name` in its own interpreter; its output streams through as it runs."""
    # A main() may return an exit status; anything else (e.g. its Markdown) means success.
    code = (
        f"import sys, benchmarks.{name} as b; r = b.main(sys.argv[1:]); "
        "sys.exit(r if isinstance(r, int) else 0)"
    )
    started = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", code, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
    return Outcome(name, process.returncode, time.perf_counter() - started, "".join(lines))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval-all"]:
        from benchmarks import eval_all

        return eval_all.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("only", nargs="*", help="benchmark names, with or without 'bench_'")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--output", type=Path, help="also write every benchmark's output here")
    # Options the runner does not know go to every benchmark run: `gpu --cpu-smoke`.
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    wanted = [name if name.startswith("bench_") else f"bench_{name}" for name in args.only]
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        print(
            f"error: no such benchmark: {', '.join(unknown)} (have: {', '.join(available)})",
            file=sys.stderr,
        )
        return 2
    outcomes = []
    for name in wanted or available:
        print(f"\n## {name}\n", flush=True)
        outcomes.append(run_one(name, extra))
    print("\n## Summary\n")
    for outcome in outcomes:
        status = "ok" if outcome.returncode == 0 else f"FAILED (exit {outcome.returncode})"
        print(f"- {outcome.name}: {status} in {outcome.seconds:.0f} s")
    if args.output:
        args.output.write_text(
            "\n".join(
                f"## {o.name} (exit {o.returncode}, {o.seconds:.0f} s)\n\n{o.output}"
                for o in outcomes
            ),
            encoding="utf-8",
        )
    return 0 if all(outcome.returncode == 0 for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
