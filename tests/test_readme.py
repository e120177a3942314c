"""README.md as one truth: every command its examples show exists as shown.

Each fenced shell example (and each `megrez-search …` / `make …` code span of the prose) is
read command by command: a `megrez-search` command must name subcommands and `--flags` the
CLI's own parser has (introspected, nothing is run), a `make` command targets the Makefile
defines; each Python example must at least compile.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator

import pytest

from cli.main import build_parser
from tools.layers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
MAKEFILE = (REPO / "Makefile").read_text(encoding="utf-8")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
_SPAN = re.compile(r"`((?:megrez-search|make) [^`]+)`")
_COMMENT = re.compile(r"(?:^|\s)#.*")  # a `#` that starts a word (not `spec#model`)
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _line(offset: int) -> int:
    return README.count("\n", 0, offset) + 1


def fenced(*languages: str) -> Iterator[tuple[int, str]]:
    """(README line, text) of each fenced block in one of `languages`."""
    for match in _FENCE.finditer(README):
        if match.group(1) in languages:
            yield _line(match.start()), match.group(2)


def commands() -> Iterator[tuple[int, list[str]]]:
    """(README line, words) of each `megrez-search` or `make` command the README shows."""
    for first, block in fenced("sh", "bash", "shell", "console"):
        start, pending = first, ""
        for number, text in enumerate(block.splitlines(), first + 1):
            start = start if pending else number
            pending += _COMMENT.sub("", text)
            if pending.endswith("\\"):  # continued on the next line
                pending = pending[:-1]
                continue
            yield from _commands_in(start, pending)
            pending = ""
    for match in _SPAN.finditer(README):
        yield from _commands_in(_line(match.start()), match.group(1))


def _commands_in(line: int, text: str) -> Iterator[tuple[int, list[str]]]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    for word in [*lexer, ";"]:
        if word.strip(";&|") == "":  # the end of one command
            while words and _ENV.match(words[0]):
                words.pop(0)  # VAR=value before the command
            if words and words[0] in {"megrez-search", "make"}:
                yield line, words
            words = []
        else:
            words.append(word)


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def unknown_words(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """The options and subcommands of `words` that `parser` (and its subparsers) lacks."""
    options = {o: a for a in parser._actions for o in a.option_strings}
    subcommands = {
        name: sub
        for a in parser._actions
        if isinstance(a, argparse._SubParsersAction)
        for name, sub in a.choices.items()
    }
    missing: list[str] = []
    rest = iter(words)
    for word in rest:
        if word.startswith("-") and word != "-":
            action = options.get(word.split("=", 1)[0])
            if action is None:
                missing.append(word.split("=", 1)[0])
            elif _takes_value(action) and "=" not in word:
                next(rest, None)
        elif word in subcommands:
            return missing + unknown_words(subcommands[word], list(rest))
        elif subcommands and not missing:
            return [*missing, word]  # the first positional must name a subcommand
    return missing


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*):(?!=)", MAKEFILE, re.MULTILINE))


COMMANDS = list(commands())


def test_the_readme_shows_commands_of_both_kinds() -> None:
    """The extraction itself: it finds the examples it is meant to check."""
    shown = {tuple(words[:2]) for _, words in COMMANDS}
    assert {("megrez-search", "ask"), ("megrez-search", "users"), ("make", "run")} <= shown


@pytest.mark.parametrize(("line", "words"), COMMANDS, ids=lambda v: str(v)[:60])
def test_each_readme_command_exists(line: int, words: list[str]) -> None:
    if words[0] == "make":
        targets = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        assert set(targets) <= make_targets(), f"README.md:{line}: no such make target"
    else:
        assert unknown_words(build_parser(), words[1:]) == [], f"README.md:{line}"


def test_the_checker_catches_a_flag_and_a_subcommand_that_do_not_exist() -> None:
    parser = build_parser()
    assert unknown_words(parser, ["ask", "--no-such-flag", "q"]) == ["--no-such-flag"]
    assert unknown_words(parser, ["--model", "x", "nosuch", "--json"]) == ["nosuch"]
    assert unknown_words(parser, ["users", "key", "alice", "--label", "laptop"]) == []


@pytest.mark.parametrize(("line", "code"), list(fenced("python", "py")), ids=str)
def test_each_python_example_compiles(line: int, code: str) -> None:
    compile(code, f"README.md:{line}", "exec")
