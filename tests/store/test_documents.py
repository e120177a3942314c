"""Files as private sources in the store, on SQLite and on a real PostgreSQL: each owner's
documents, chats and collections are theirs alone, survive reopening and are searchable."""

from __future__ import annotations

import pytest

from core.settings import Settings
from retrieval.documents import read_document
from retrieval.policy import DocumentLimits
from store import DocumentStore, DocumentStoreError, ThreadIndex, open_database
from store.documents import search_terms
from tests.support.documents import make_pdf

REPORT = make_pdf(
    [
        ["Annual report of the Lighthouse Company."],
        ["Staff and offices are described here."],
        ["The refund period for all orders is 45 days.", "Refunds go to the original card."],
    ]
)
NOTES = b"# Garden notes\n\nThe tomatoes were planted on the ninth of May.\n"


def _store(settings: Settings) -> DocumentStore:
    return DocumentStore(open_database(settings.store))


def test_a_chat_file_is_found_with_its_page_after_reopening(store_settings: Settings) -> None:
    document = read_document("report.pdf", REPORT, DocumentLimits())
    store = _store(store_settings)
    doc_id = store.add("alice", document, chat_id="c1")
    reopened = _store(store_settings)

    hits = reopened.search("alice", "How long is the refund period?", chat_id="c1")

    assert [(hit.doc_id, hit.name, hit.page) for hit in hits][:1] == [(doc_id, "report.pdf", 3)]
    assert "45 days" in hits[0].text
    assert reopened.file_bytes("alice", doc_id).data == REPORT  # type: ignore[union-attr]
    assert [info.name for info in reopened.list("alice", chat_id="c1")] == ["report.pdf"]


def test_another_owner_cannot_list_search_or_read(store_settings: Settings) -> None:
    store = _store(store_settings)
    chat_doc = store.add(
        "alice", read_document("report.pdf", REPORT, DocumentLimits()), chat_id="c1"
    )
    notes = read_document("notes.md", NOTES, DocumentLimits())
    kept_doc = store.add("alice", notes, collection="garden")

    # Bob uses Alice's chat id, collection name and document ids: none of it is his.
    assert store.search("bob", "refund period", chat_id="c1") == []
    assert store.search("bob", "tomatoes planted", collections=["garden"]) == []
    assert store.list("bob") == [] and store.collections("bob") == []
    assert store.file_bytes("bob", chat_doc) is None and store.file_bytes("bob", kept_doc) is None
    assert not store.remove("bob", chat_doc)
    assert store.remove_collection("bob", "garden") == 0
    # ... and all of it is still Alice's.
    assert [hit.name for hit in store.search("alice", "tomatoes", collections=["garden"])] == [
        "notes.md"
    ]
    assert [(c.name, c.documents) for c in store.collections("alice")] == [("garden", 1)]


def test_scopes_search_only_what_they_name(store_settings: Settings) -> None:
    store = _store(store_settings)
    store.add("alice", read_document("report.pdf", REPORT, DocumentLimits()), chat_id="c1")
    store.add("alice", read_document("notes.md", NOTES, DocumentLimits()), collection="garden")

    assert store.search("alice", "refund tomatoes", chat_id="c2") == []
    assert {hit.name for hit in store.search("alice", "refund tomatoes", chat_id="c1")} == {
        "report.pdf"
    }
    both = store.search("alice", "refund tomatoes", chat_id="c1", collections=["garden"])
    assert {hit.name for hit in both} == {"report.pdf", "notes.md"}
    assert store.has_documents("alice", collections=["garden"])
    assert not store.has_documents("alice", chat_id="c2", collections=["other"])


def test_removing_a_document_removes_its_passages(store_settings: Settings) -> None:
    store = _store(store_settings)
    doc_id = store.add("alice", read_document("report.pdf", REPORT, DocumentLimits()), chat_id="c1")
    again = store.add("alice", read_document("report.pdf", REPORT, DocumentLimits()), chat_id="c1")

    assert again == doc_id  # the same file twice in one chat is stored once
    assert store.remove("alice", doc_id)
    assert store.search("alice", "refund", chat_id="c1") == []
    assert store.list("alice") == []


def test_chinese_text_is_searchable(store_settings: Settings) -> None:
    store = _store(store_settings)
    text = "# 退款政策\n\n所有订单的退款期限为四十五天。\n".encode()
    store.add("alice", read_document("政策.md", text, DocumentLimits()), chat_id="c1")

    hits = store.search("alice", "退款期限是多久？", chat_id="c1")

    assert [hit.name for hit in hits] == ["政策.md"]


@pytest.mark.parametrize("name", ["", "a/b", "x\x00y", "z" * 65])
def test_bad_collection_names_are_refused(store_settings: Settings, name: str) -> None:
    store = _store(store_settings)
    with pytest.raises(DocumentStoreError):
        store.add("alice", read_document("notes.md", NOTES, DocumentLimits()), collection=name)
    assert store.list("alice") == []


def test_search_terms_split_cjk_into_bigrams() -> None:
    assert search_terms("Refund 退款期限 X") == ["refund", "退款", "款期", "期限", "x"]


def test_a_page_is_read_back_for_its_owner_only(store_settings: Settings) -> None:
    store = _store(store_settings)
    doc_id = store.add("alice", read_document("report.pdf", REPORT, DocumentLimits()), chat_id="c1")
    notes_id = store.add("alice", read_document("notes.md", NOTES, DocumentLimits()), chat_id="c1")

    assert store.page_text("alice", doc_id, 3) == (
        "report.pdf",
        "The refund period for all orders is 45 days.\nRefunds go to the original card.",
    )
    assert store.page_text("alice", notes_id, None) == (
        "notes.md",
        "## Garden notes\n\nThe tomatoes were planted on the ninth of May.",
    )
    assert store.page_text("alice", doc_id, 9) is None
    assert store.page_text("bob", doc_id, 3) is None


def test_a_chats_collections_are_its_owners_and_survive_reopening(
    store_settings: Settings,
) -> None:
    database = open_database(store_settings.store)
    DocumentStore(database).add(
        "alice", read_document("notes.md", NOTES, DocumentLimits()), collection="garden"
    )
    DocumentStore(database).create_collection("bob", "work")
    threads = ThreadIndex(database)
    # Bob's collection, a missing one and a repeat are not kept for Alice's chat.
    threads.set_collections("alice", "c1", ["garden", "work", "nope", "garden"])
    database.close()

    reopened = open_database(store_settings.store)
    threads = ThreadIndex(reopened)
    assert threads.collections("alice", "c1") == ["garden"]
    assert threads.collections("bob", "c1") == []  # Bob's own chat c1 is another chat
    threads.set_collections("alice", "c1", [])
    assert threads.collections("alice", "c1") == []
    threads.set_collections("alice", "c1", ["garden"])
    DocumentStore(reopened).remove_collection("alice", "garden")
    DocumentStore(reopened).create_collection("alice", "garden")  # a new one of that name
    assert threads.collections("alice", "c1") == []
    threads.set_collections("alice", "c1", ["garden"])
    threads.delete("alice", "c1")
    assert threads.collections("alice", "c1") == []
