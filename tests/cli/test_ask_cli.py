"""The foundation's acceptance list, through the real console command on the embedded model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.docs_index import run_cli
from tests.support.media import SIGN_LINES

ASK_SCHEMA = {"answer", "searched", "queries", "sources", "citations", "input", "timings", "tokens"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-data")


def megrez(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, data_dir=data_dir)


def ask_json(data_dir: Path, *args: str) -> dict:
    done = megrez(data_dir, "ask", "--no-search", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_lists_subcommands(data_dir: Path) -> None:
    done = megrez(data_dir, "--help")
    assert done.returncode == 0
    for command in ("ask", "model"):
        assert command in done.stdout


def test_ask_answers_offline_with_the_embedded_model(data_dir: Path) -> None:
    done = megrez(data_dir, "ask", "--no-search", "What is the capital of France?")
    assert done.returncode == 0, done.stderr
    assert "Paris" in done.stdout


def test_ask_json_schema(data_dir: Path) -> None:
    result = ask_json(data_dir, "What is the capital of France?")
    assert ASK_SCHEMA <= set(result)
    assert "Paris" in result["answer"]
    assert result["searched"] is False and result["queries"] == [] and result["sources"] == []
    assert set(result["input"]) >= {"transcript", "image_text"}
    assert result["timings"]["total"] > 0
    assert result["tokens"]["prompt"] > 0 and result["tokens"]["completion"] > 0


def test_ask_by_voice(data_dir: Path, spoken_question: Path) -> None:
    result = ask_json(data_dir, "--audio", str(spoken_question), "")
    transcript = result["input"]["transcript"].lower()
    assert "capital" in transcript and "france" in transcript
    assert result["answer"].strip()


def test_ask_about_an_image(data_dir: Path, sign_image: Path) -> None:
    result = ask_json(data_dir, "--image", str(sign_image), "What does the sign say?")
    assert all(line in result["input"]["image_text"] for line in SIGN_LINES)
    assert result["answer"].strip()


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "--no-search", ""], "empty"),
        (["ask", "--pages", "0", "Hi"], "pages must be between 1 and 20"),
        (["ask", "--no-search", "--image", "/nonexistent/sign.png", "What is it?"], "not found"),
        (["ask", "--no-search", "--audio", "/nonexistent/q.wav", ""], "not found"),
        (["--model", "/nonexistent/model.gguf", "ask", "--no-search", "Hi"], "not found"),
        (["--model", "openai:http://127.0.0.1:9/v1#m", "ask", "--no-search", "Hi"], "cannot reach"),
        (["--model", "ftp:/what", "ask", "--no-search", "Hi"], "model"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    data_dir: Path, args: list[str], message: str
) -> None:
    done = megrez(data_dir, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0]


def test_bad_environment_setting_is_one_clear_line(data_dir: Path) -> None:
    done = run_cli("ask", "--no-search", "Hi", data_dir=data_dir, env={"MEGREZ_PAGES": "0"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: invalid setting MEGREZ_PAGES='0': Input should be greater than or equal to 1"
    ]


def test_a_file_name_that_is_not_utf8_is_logged_and_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # The bytes b"\xff.png" as Python passes them on: a lone surrogate (surrogateescape).
    done = megrez(data_dir, "ask", "--no-search", "--image", "\udcff.png", "What is it?")
    assert done.returncode == 2, done.stderr
    assert "Logging error" not in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["error: image file not found: \\udcff.png"]
    log_text = (data_dir / "logs" / "megrez-search.log").read_text(encoding="utf-8")
    assert "command failed: image file not found: \\udcff.png" in log_text


@pytest.mark.parametrize("inside", [False, True])
@pytest.mark.parametrize("command", [["users", "list"], ["ask", "--no-search", "Hi"]])
def test_a_data_dir_that_is_a_file_is_one_clear_line(
    tmp_path: Path, command: list[str], inside: bool
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    data_dir = a_file / "data" if inside else a_file
    done = run_cli(*command, data_dir=data_dir, cwd=workdir)
    assert done.returncode == 2, done.stderr
    expected = (
        f"error: the data dir {data_dir} cannot be used: {a_file} is a file, not a folder; "
        "point --data-dir or MEGREZ_DATA_DIR at a folder"
    )
    assert done.stderr.strip().splitlines() == [expected]
    assert not list(workdir.iterdir())  # no crash.log (or anything) left where it was run
    assert a_file.read_text() == "not a folder"


@pytest.mark.parametrize(
    "suffix, payload", [(".wav", b"\x00\x01garbage" * 50), (".png", b"not an image")]
)
def test_unreadable_attachments_exit_2(
    data_dir: Path, tmp_path: Path, suffix: str, payload: bytes
) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(payload)
    flag = "--audio" if suffix == ".wav" else "--image"
    done = megrez(data_dir, "ask", "--no-search", flag, str(path), "What is this?")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert any(line.startswith("error:") and "broken" in line for line in done.stderr.splitlines())


def test_model_command_reports_the_backend(data_dir: Path) -> None:
    done = megrez(data_dir, "model", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["backend"] == "llamacpp" and info["dialect"] == "generic"
    ladder = {row["spec"]: row for row in info["ladder"]}
    assert list(ladder) == ["embedded", "embedded:small", "embedded:tiny"]
    assert ladder["embedded:tiny"]["active"] and ladder["embedded:tiny"]["ready"]
    assert not ladder["embedded"]["active"] and ladder["embedded"]["size_mb"] == 1117


def test_model_command_lists_the_ladder(data_dir: Path) -> None:
    done = megrez(data_dir, "model")
    assert done.returncode == 0, done.stderr
    active = [line for line in done.stdout.splitlines() if line.startswith(" * ")]
    assert len(active) == 1 and "embedded:tiny" in active[0] and "SmolLM2" in active[0]
    assert "Qwen2.5-Coder-1.5B-Instruct" in done.stdout
