"""`Store`: the database, its conversation index and LangGraph's checkpointer, opened once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.settings import StoreSettings
from store.database import Database, open_database
from store.documents import DocumentStore
from store.threads import ThreadIndex


@dataclass
class Store:
    database: Database
    threads: ThreadIndex = field(init=False)
    documents: DocumentStore = field(init=False)
    checkpointer: Any = field(init=False)  # a LangGraph BaseCheckpointSaver

    def __post_init__(self) -> None:
        self.threads = ThreadIndex(self.database)
        self.documents = DocumentStore(self.database)
        self.checkpointer = self.database.checkpointer()

    def close(self) -> None:
        self.database.close()


def open_store(settings: StoreSettings) -> Store:
    return Store(open_database(settings))
