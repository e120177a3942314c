"""`megrez-search index FOLDER --collection NAME --user USER`: a user's private collection."""

from __future__ import annotations

from pathlib import Path

from accounts import Accounts
from core.settings import Settings
from store import DocumentStore, open_database
from tests.support.docs_index import run_cli
from tests.support.documents import make_pdf


def test_a_folder_fills_one_users_collection(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    database = open_database(settings.store)
    accounts = Accounts(database)
    accounts.add("alice", "alice-password")
    accounts.add("bob", "bob-password")
    alice, bob = accounts.user_id("alice"), accounts.user_id("bob")
    database.close()
    folder = tmp_path / "papers"
    (folder / "sub").mkdir(parents=True)
    (folder / "report.pdf").write_bytes(make_pdf([["Intro."], ["The refund period is 45 days."]]))
    (folder / "sub" / "notes.md").write_text("# Notes\n\nTomatoes in May.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 nothing else")
    (folder / "skip.bin").write_bytes(b"\0\1\2")

    first = run_cli(
        "index", str(folder), "--collection", "work", "--user", "alice", data_dir=data_dir
    )
    again = run_cli(
        "index", str(folder), "--collection", "work", "--user", "alice", data_dir=data_dir
    )
    nobody = run_cli(
        "index", str(folder), "--collection", "work", "--user", "carol", data_dir=data_dir
    )

    assert first.returncode == 0, first.stderr
    assert "2 files added, 0 already there, 1 not readable" in first.stdout
    assert "broken.pdf" in first.stderr and "not a readable PDF" in first.stderr
    assert "0 files added, 2 already there" in again.stdout
    assert nobody.returncode == 2 and "no account named 'carol'" in nobody.stderr
    database = open_database(settings.store)
    store = DocumentStore(database)
    hits = store.search(alice or "", "refund period", collections=["work"])
    assert [(hit.name, hit.page) for hit in hits] == [("report.pdf", 2)]
    assert (
        store.collections(bob or "") == []
        and store.search(bob or "", "refund", collections=["work"]) == []
    )
    database.close()


def test_user_without_collection_is_refused(tmp_path: Path) -> None:
    result = run_cli("index", str(tmp_path), "--name", "x", "--user", "alice", data_dir=tmp_path)
    assert result.returncode == 2 and "--user goes with --collection" in result.stderr


def test_ask_names_only_collections_of_its_user(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "notes.md").write_text("# Notes\n\nTomatoes in May.\n")
    filled = run_cli("index", str(folder), "--collection", "garden", data_dir=tmp_path)
    missing = run_cli("ask", "--collection", "gardn", "When?", data_dir=tmp_path)

    assert filled.returncode == 0 and "1 files added" in filled.stdout, filled.stderr
    assert missing.returncode == 2
    assert "no collection named 'gardn' (yours: garden)" in missing.stderr
