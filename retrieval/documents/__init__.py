"""Files given as sources (PDF, DOCX, Markdown, text, HTML, images with text): read once into
a `Document` of passages that carry their page or heading. Storing and searching them is the
store's (`store.documents`); the agent searches them beside the web."""

from retrieval.documents.read import OcrReader, read_document
from retrieval.documents.types import Document, DocumentPassage

__all__ = ["Document", "DocumentPassage", "OcrReader", "read_document"]
