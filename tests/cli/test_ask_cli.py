"""The foundation's acceptance list, through the real console command on the embedded model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.conftest import SIGN_LINES

ASK_SCHEMA = {"answer", "searched", "queries", "sources", "citations", "input", "timings", "tokens"}


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEGREZ_")}
    env["MEGREZ_DATA_DIR"] = str(tmp_path_factory.mktemp("cli-data"))
    return env


def megrez(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "megrez_search", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,  # callers assert on the exit status
    )


def ask_json(env: dict[str, str], *args: str) -> dict:
    done = megrez(env, "ask", "--no-search", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_lists_subcommands(cli_env: dict[str, str]) -> None:
    done = megrez(cli_env, "--help")
    assert done.returncode == 0
    for command in ("ask", "model"):
        assert command in done.stdout


def test_ask_answers_offline_with_the_embedded_model(cli_env: dict[str, str]) -> None:
    done = megrez(cli_env, "ask", "--no-search", "What is the capital of France?")
    assert done.returncode == 0, done.stderr
    assert "Paris" in done.stdout


def test_ask_json_schema(cli_env: dict[str, str]) -> None:
    result = ask_json(cli_env, "What is the capital of France?")
    assert ASK_SCHEMA <= set(result)
    assert "Paris" in result["answer"]
    assert result["searched"] is False and result["queries"] == [] and result["sources"] == []
    assert set(result["input"]) >= {"transcript", "image_text"}
    assert result["timings"]["total"] > 0
    assert result["tokens"]["prompt"] > 0 and result["tokens"]["completion"] > 0


def test_ask_by_voice(cli_env: dict[str, str], spoken_question: Path) -> None:
    result = ask_json(cli_env, "--audio", str(spoken_question), "")
    transcript = result["input"]["transcript"].lower()
    assert "capital" in transcript and "france" in transcript
    assert result["answer"].strip()


def test_ask_about_an_image(cli_env: dict[str, str], sign_image: Path) -> None:
    result = ask_json(cli_env, "--image", str(sign_image), "What does the sign say?")
    assert all(line in result["input"]["image_text"] for line in SIGN_LINES)
    assert result["answer"].strip()


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "--no-search", ""], "empty"),
        (["ask", "--no-search", "--image", "/nonexistent/sign.png", "What is it?"], "not found"),
        (["ask", "--no-search", "--audio", "/nonexistent/q.wav", ""], "not found"),
        (["--model", "/nonexistent/model.gguf", "ask", "--no-search", "Hi"], "not found"),
        (["--model", "openai:http://127.0.0.1:9/v1#m", "ask", "--no-search", "Hi"], "cannot reach"),
        (["--model", "ftp:/what", "ask", "--no-search", "Hi"], "model"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    cli_env: dict[str, str], args: list[str], message: str
) -> None:
    done = megrez(cli_env, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0]


@pytest.mark.parametrize("suffix, payload", [(".wav", b"\x00\x01garbage" * 50), (".png", b"not an image")])
def test_unreadable_attachments_exit_2(
    cli_env: dict[str, str], tmp_path: Path, suffix: str, payload: bytes
) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(payload)
    flag = "--audio" if suffix == ".wav" else "--image"
    done = megrez(cli_env, "ask", "--no-search", flag, str(path), "What is this?")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert any(line.startswith("error:") and "broken" in line for line in done.stderr.splitlines())


def test_model_command_reports_the_backend(cli_env: dict[str, str]) -> None:
    done = megrez(cli_env, "model", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["backend"] == "llamacpp" and info["dialect"] == "generic"
