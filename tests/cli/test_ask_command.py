"""`megrez-search ask`: argument parsing, plain output with sources, the --json object."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from cli.agent import AskFailed, register, run_ask
from core.errors import MegrezSearchError
from runtime import Message
from runtime.prefill_progress import report_prefill
from tests.support.scripted import CALL, QUESTION, Fail


def _parser(settings_seen):
    parser = argparse.ArgumentParser(prog="megrez-search")
    sub = parser.add_subparsers(dest="command")
    register(sub, lambda args: settings_seen)
    return parser


def test_ask_arguments(offline_settings):
    args = _parser(offline_settings).parse_args(
        [
            "ask",
            "--no-search",
            "--provider",
            "local:docs",
            "--thread",
            "t1",
            "--json",
            "--image",
            "a.png",
            "--audio",
            "q.wav",
            "Hello there?",
        ]
    )
    assert (args.search, args.provider, args.thread, args.json) == (False, "local:docs", "t1", True)
    assert (str(args.image), str(args.audio), args.question) == ("a.png", "q.wav", "Hello there?")
    defaults = _parser(offline_settings).parse_args(["ask", "Why?"])
    assert defaults.search is True and defaults.json is False and defaults.thread is None
    assert callable(defaults.handler)


def _args(**values):
    base = {
        "question": QUESTION,
        "thread": None,
        "search": True,
        "provider": None,
        "pages": None,
        "deep": False,
        "json": False,
        "image": None,
        "audio": None,
        "collections": None,
    }
    base.update(values)
    return argparse.Namespace(**base)


def test_plain_output_has_answer_then_numbered_sources(docs_settings, scripted_agent):
    agent, _ = scripted_agent(docs_settings, [CALL, "The default maxsize is 128."])
    out, err = io.StringIO(), io.StringIO()
    assert run_ask(_args(), docs_settings, agent=agent, out=out, err=err) == 0
    text = out.getvalue()
    answer, _, sources = text.partition("\nSources:\n")
    assert answer.startswith("The default maxsize is 128 [")  # attributed to its source
    lines = sources.strip().splitlines()
    assert lines and all(line.startswith(f"[{i}] ") for i, line in enumerate(lines, start=1))
    assert any("library/functools.html" in line for line in lines)
    status = err.getvalue()
    assert "» Searching: functools lru_cache default maxsize" in status
    assert "--thread" in status


def test_json_output_schema(docs_settings, scripted_agent):
    agent, _ = scripted_agent(docs_settings, [CALL, "The default maxsize is 128 [citation:1]."])
    out = io.StringIO()
    run_ask(_args(json=True), docs_settings, agent=agent, out=out, err=io.StringIO())
    data = json.loads(out.getvalue())
    assert {
        "answer",
        "searched",
        "queries",
        "sources",
        "citations",
        "input",
        "timings",
        "tokens",
    } <= set(data)
    assert data["searched"] is True and data["queries"] == ["functools lru_cache default maxsize"]
    assert all({"n", "url", "title"} <= set(s) for s in data["sources"])
    assert set(data["citations"]) <= {s["n"] for s in data["sources"]} and data["citations"]
    assert data["input"] == {"transcript": None, "image_text": None}
    assert data["timings"]["total"] >= data["timings"]["search"] > 0
    assert set(data["tokens"]) == {"prompt", "completion"} and data["tokens"]["completion"] > 0


class _Terminal(io.StringIO):
    """stdout and stderr as one terminal: what a user sees, in the order it was written."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_step_lines_come_first_and_each_on_its_own_line(
    docs_settings, scripted_agent
):
    def reads_then_answers(messages: list[Message]) -> str:
        report_prefill(128, 300)  # as llama.cpp reports a long prompt, piece by piece
        report_prefill(300, 300)
        return "The default maxsize is 128."

    agent, _ = scripted_agent(docs_settings, [CALL, reads_then_answers])
    terminal = _Terminal()
    assert run_ask(_args(), docs_settings, agent=agent, out=terminal, err=terminal) == 0
    lines = terminal.getvalue().splitlines()
    first_answer = next(i for i, line in enumerate(lines) if "maxsize is 128" in line)
    steps = [i for i, line in enumerate(lines) if "»" in line]
    assert steps and steps[0] < first_answer
    assert any("» Searching:" in lines[i] for i in steps if i < first_answer)
    # The model's reading counts up on one line (carriage returns), ended before the answer.
    read = [lines[i] for i in steps if "Reading the sources" in lines[i] and i < first_answer]
    assert read == [
        "» Reading the sources · 42% of 300 tokens",
        "» Reading the sources · 100% of 300 tokens",
    ]
    assert "tokens\n" in terminal.getvalue() and "tokensThe default" not in terminal.getvalue()
    # Every step line starts a line: none is glued to the streamed answer.
    assert all(lines[i].startswith("» ") for i in steps)


def test_in_a_log_the_reading_is_one_line(docs_settings, scripted_agent):
    def reads_then_answers(messages: list[Message]) -> str:
        report_prefill(128, 300)
        report_prefill(300, 300)
        return "The default maxsize is 128."

    agent, _ = scripted_agent(docs_settings, [CALL, reads_then_answers])
    out, err = io.StringIO(), io.StringIO()
    assert run_ask(_args(), docs_settings, agent=agent, out=out, err=err) == 0
    reading = [line for line in err.getvalue().splitlines() if "Reading the sources" in line]
    assert reading == ["» Reading the sources (300 tokens)"]
    assert "\r" not in err.getvalue()


def _json_args(question, **extra):
    return _args(**{"question": question, "search": False, "json": True, **extra})


def test_cli_failure_and_bad_input_are_user_errors(offline_settings, scripted_agent, capsys):
    agent, _ = scripted_agent(offline_settings, [Fail("Par")], dialect="generic")
    with pytest.raises(AskFailed, match="CUDA error") as failed:
        run_ask(_json_args("What is the capital of France?"), offline_settings, agent=agent)
    assert isinstance(failed.value, MegrezSearchError)  # main(): one line, exit status 2
    printed = capsys.readouterr().out
    assert '"error": "the model failed while answering: CUDA error: device lost"' in printed
    with pytest.raises(MegrezSearchError, match="question is empty"):
        run_ask(_json_args(""), offline_settings, agent=agent)
