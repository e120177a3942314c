"""The wheel, installed without `-e` into a fresh virtualenv, works from outside the repo.

The fresh venv sees the (large) dependencies through a `.pth` line naming the test venv's
site-packages folders: a plain path, so nothing there runs (the editable install's import hook
stays off) and `megrez_search` itself can only come from the wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.support.docs_index import cli_env

REPO = Path(__file__).resolve().parents[2]
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "test-artifacts"
)
PAGE = (
    "<!doctype html><html><head><title>{title}</title></head><body><main><h1>{title}</h1>"
    "<p>{text}</p></main></body></html>"
)


def _run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        check=False,
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _dependency_folders(fresh: Path) -> list[str]:
    """The test interpreter's site-packages folders (a layered venv has more than one)."""
    return [
        entry
        for entry in sys.path
        if entry.endswith(("site-packages", "dist-packages")) and not entry.startswith(str(fresh))
    ]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding the wheel built from a copy of the repo."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE, symlinks=True)
    wheels = work / "wheels"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(wheels), str(source)],
        cwd=work,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-3000:]
    (wheel,) = wheels.glob("megrez_search-*.whl")
    fresh = work / "venv"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    # pip runs the install inside the fresh venv; the dependency folders are added after, so
    # pip never sees (nor touches) the test venv's own megrez-search.
    done = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
        + ["--no-index", str(wheel)],
        cwd=work,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], work)
    link = Path(site.stdout.strip()) / "zz_test_dependencies.pth"
    link.write_text("\n".join(_dependency_folders(fresh)) + "\n", encoding="utf-8")
    return fresh / "bin"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory far from the repo (its folders must not be importable)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for the module: the default model (1.1 GB) is assembled into it once."""
    return tmp_path_factory.mktemp("data")


@pytest.mark.slow
def test_the_package_comes_from_the_wheel_with_its_data(installed: Path, outside: Path) -> None:
    probe = (
        "import json, importlib.resources as r, agent as a;"
        "print(json.dumps([a.__file__, sorted(p.name for p in "
        "r.files('prompts').iterdir() if p.name.endswith('.toml'))]))"
    )
    done = _run([str(installed / "python"), "-c", probe], outside)
    assert done.returncode == 0, done.stderr[-3000:]
    agent_file, prompts = json.loads(done.stdout)
    assert Path(agent_file).is_relative_to(installed.parent)
    shipped = sorted(p.name for p in (REPO / "prompts").glob("*.toml"))
    assert shipped and prompts == shipped


@pytest.mark.slow
def test_ask_runs_from_the_installed_command(installed: Path, outside: Path, data: Path) -> None:
    done = _run(
        [str(installed / "megrez-search"), "--data-dir", str(data), "--model"]
        + ["embedded", "ask", "--no-search", "--json", "What is the capital of France?"],
        outside,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["answer"].strip() and result["searched"] is False


@pytest.mark.slow
def test_eval_runs_from_the_installed_command(installed: Path, outside: Path, data: Path) -> None:
    corpus = outside / "corpus"
    (corpus / "library").mkdir(parents=True)
    (corpus / "library" / "lighthouse.html").write_text(
        PAGE.format(
            title="Lighthouse keeping",
            text="The keeper of the Nordlicht lighthouse trimmed the lamp wicks every four hours.",
        ),
        encoding="utf-8",
    )
    (corpus / "index.html").write_text(
        PAGE.format(title="Notes", text='<a href="library/lighthouse.html">Lighthouses</a>'),
        encoding="utf-8",
    )
    questions = outside / "questions.jsonl"
    question = {
        "id": "q-1",
        "question": "How often did the Nordlicht keeper trim the lamp wicks?",
        "answers": ["four hours"],
        "gold_pages": ["library/lighthouse.html"],
        "needs_search": True,
    }
    questions.write_text(json.dumps(question) + "\n", encoding="utf-8")
    done = _run(
        [str(installed / "megrez-search"), "--data-dir", str(data), "--model"]
        + ["embedded", "eval", "--questions", str(questions), "--corpus", str(corpus), "--json"],
        outside,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["n"] == 1 and metrics["errors"] == 0
