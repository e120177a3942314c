"""Where conversations, the conversation index, users and API keys are kept.

`open_store(settings)` picks the backend: SQLite in the data dir (the embedded default) or
PostgreSQL when `MEGREZ_DATABASE_URL=postgresql://…` is set, which lets any number of `ui` and
`serve` replicas share one database. The schema is created and migrated on open.
"""

from store.database import Database, open_database
from store.documents import (
    CollectionInfo,
    DocumentHit,
    DocumentInfo,
    DocumentStore,
    DocumentStoreError,
    StoredFile,
)
from store.store import Store, open_store
from store.text import UnstorableTextError, check_storable, is_storable
from store.threads import LOCAL_USER, ThreadIndex, ThreadInfo, thread_key

__all__ = [
    "LOCAL_USER",
    "CollectionInfo",
    "Database",
    "DocumentHit",
    "DocumentInfo",
    "DocumentStore",
    "DocumentStoreError",
    "Store",
    "StoredFile",
    "ThreadIndex",
    "ThreadInfo",
    "UnstorableTextError",
    "check_storable",
    "is_storable",
    "open_database",
    "open_store",
    "thread_key",
]
