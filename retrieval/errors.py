"""Retrieval's errors. User-facing ones derive from `MegrezSearchError`."""

from __future__ import annotations

from core.errors import MegrezSearchError


class RetrievalError(MegrezSearchError):
    """Base of retrieval errors whose message is meant for the user."""


class BlockedURLError(RetrievalError):
    """The SSRF guard refused a URL (private address, bad scheme, unresolvable host)."""


class FetchError(RetrievalError):
    """A page could not be fetched (timeout, too large, HTTP error, redirect trouble)."""


class UnsupportedContentError(RetrievalError):
    """A page was fetched but its content cannot be turned into text (binary, broken PDF)."""


class ProviderSpecError(RetrievalError):
    """A search provider spec (MEGREZ_SEARCH / --provider) is malformed or names nothing."""


class LocalIndexError(RetrievalError):
    """A local index is missing or cannot be built from the given source."""


class DocumentError(RetrievalError):
    """A file given as a source cannot be read; nothing of it is indexed."""


class DocumentNameError(DocumentError):
    """A file name that is a path, empty, too long or holds control characters."""


class DocumentTooLargeError(DocumentError):
    """A file over the size or page cap, or a DOCX whose contents unpack too large."""


class UnsupportedDocumentError(DocumentError):
    """A file of a kind that cannot be read (only PDF, DOCX, Markdown, text, HTML, images)."""


class UnreadableDocumentError(DocumentError):
    """A broken or encrypted file, or one without any text to read."""


class ProviderFailure(Exception):
    """A search provider could not answer; caught by the chain, never shown raw.

    `rate_limited` tells the chain to cool the provider down before asking it again.
    """

    def __init__(self, message: str, *, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.rate_limited = rate_limited
