"""Turn a fetched body into clean Markdown text: HTML via trafilatura, text as is, PDF via pypdf.

Never crashes on bad input: undecodable bytes are decoded with detection, binaries are refused
with `UnsupportedContentError` naming what they are.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import charset_normalizer
import lxml.html
import trafilatura
from lxml import etree

from retrieval.errors import UnsupportedContentError
from retrieval.icons import declared_icon
from retrieval.page_structure import prepare_for_extraction

logger = logging.getLogger(__name__)

HTML_TYPES = {"text/html", "application/xhtml+xml"}
TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown", "application/json", "text/csv"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}
MAX_PDF_PAGES = 300  # a bound on CPU for huge PDFs; the byte cap already bounds memory

# Magic numbers of common binaries, to refuse them whatever the server claims they are.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"RIFF", "RIFF media (WebP/WAV/AVI)"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"\x00asm", "WebAssembly module"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
    (b"\x00\x00\x00\x18ftyp", "MP4 video"),
    (b"\x00\x00\x00\x20ftyp", "MP4 video"),
    (b"wOFF", "WOFF font"),
    (b"wOF2", "WOFF2 font"),
)
# lxml work on pages runs one page at a time in a process. trafilatura runs module-level
# compiled lxml XPath objects, which are not safe to evaluate from two threads at once (CI
# crashed with a segfault inside `prune_unwanted_nodes`), and a later CI run aborted inside
# lxml with one fetch thread parsing a page while another walked its own. Cleaning holds the
# GIL for most of its time anyway; parallel indexing uses processes.
LXML_LOCK = threading.Lock()
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_HEADERLINK = re.compile(r"[ \t]*[¶\uf0c1][ \t]*$", re.MULTILINE)  # Sphinx/MkDocs permalink signs
_MD_ESCAPE = re.compile(r"\\([_*\\\[\]#`|<>])")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)  # trafilatura ends table rows with "| "
#: Inline code that wrapped in the HTML source (`<code>git log --first-parent\nmaster..seen`
#: </code>, Sphinx, asciidoc and DocBook alike) comes out of trafilatura as a fenced block
#: in mid-sentence: "run ```\ngit log …\n```\nto find". Its lines then read as code lines
#: or list items ("+ 1.20" of "1.30\n+ 1.20"), cut off from their sentence. A short one
#: after a word (not a colon, which introduces a real block) goes back inline.
_INLINE_FENCE = re.compile(
    r"^(?P<lead>[^\n]*[^\s:])[ \t]*```[ \t]*\n(?P<code>(?:[^\n`]*\n){1,3}?)[ \t]*```[ \t]*$",
    re.MULTILINE,
)
MAX_INLINE_CODE_CHARS = 80
_WORD = re.compile(r"\w")
# <meta> keys holding a publication date, best first.
_DATE_KEYS = (
    "article:published_time",
    "datepublished",
    "date",
    "dc.date",
    "dc.date.issued",
    "pubdate",
    "article:modified_time",
)


@dataclass(frozen=True)
class CleanDocument:
    """The useful part of a page."""

    title: str
    text: str  # Markdown
    content_type: str
    language: str | None = None
    date: str | None = None
    icon_url: str | None = None  # the icon the page declares (never the model's text)


def media_type(header: str | None) -> tuple[str, str | None]:
    """Split a Content-Type header into (lower-case media type, charset or None)."""
    if not header:
        return "", None
    parts = [part.strip() for part in header.split(";")]
    charset = None
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value:
            charset = value.strip().strip("\"'") or None
    return parts[0].lower(), charset


def sniff_binary(body: bytes) -> str | None:
    """What binary `body` is (e.g. "PNG image"), or None if it may be text."""
    head = body[:1024]
    if head.startswith(_BOMS):
        return None
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if b"\x00" in head:
        return "binary data"
    return None


def decode_text(body: bytes, declared: str | None = None) -> str:
    """Decode `body` using the declared charset, a BOM, a <meta> charset or detection."""
    candidates = [declared] if declared else []
    meta = _META_CHARSET.search(body[:4096])
    if meta:
        candidates.append(meta.group(1).decode("ascii", "ignore"))
    for encoding in candidates:
        try:
            return body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            logger.debug("declared charset %r does not decode the body", encoding)
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body).best()
    if best is not None:
        return str(best)
    return body.decode("utf-8", "replace")


def clean_document(
    body: bytes, content_type: str, url: str, charset: str | None = None, fast: bool = False
) -> CleanDocument:
    """Clean a fetched body by its type; raise `UnsupportedContentError` if it has no text.

    `fast` skips trafilatura's fallback extractors (about 1.5x faster, same text on most
    well-formed pages): used for bulk indexing, not for answering.
    """
    declared = content_type or "(none)"
    if body.startswith(b"%PDF-") or content_type in PDF_TYPES:
        return clean_pdf(body, url)
    binary = sniff_binary(body)
    if binary:
        raise UnsupportedContentError(f"skipped: {binary} served as {declared}, no text to read")
    is_html = content_type in HTML_TYPES or (
        content_type in ("", "application/octet-stream", "text/xml", "application/xml")
        and re.search(rb"<(!doctype html|html[\s>])", body[:2048], re.IGNORECASE) is not None
    )
    if is_html:
        return clean_html(decode_text(body, charset), url, fast=fast)
    if content_type.startswith("text/") or content_type in TEXT_TYPES or not content_type:
        return clean_text(decode_text(body, charset), url, content_type or "text/plain")
    raise UnsupportedContentError(f"skipped: unsupported content type {content_type}")


def clean_html(html: str, url: str, fast: bool = False) -> CleanDocument:
    """Main text of an HTML page as Markdown (headings kept), with title, date and language."""
    with LXML_LOCK:  # the page's tree is freed inside it too, on `_extract_html`'s return
        extracted = _extract_html(html, url, fast)
    text = _tidy_markdown(extracted.text)  # plain text work: outside the lock
    title = extracted.title or _title_from_text(text) or _title_from_url(url)
    return replace(extracted, title=title, text=text)


def _extract_html(html: str, url: str, fast: bool) -> CleanDocument:
    """The page's metadata and trafilatura's Markdown as it gave it (untidied; the title
    empty when the page declares none): all of `clean_html`'s lxml work."""
    try:
        # Strip an XML declaration: lxml refuses str input that carries an encoding.
        tree = lxml.html.document_fromstring(re.sub(r"\A\s*<\?xml[^>]*>", "", html))
    except (etree.ParserError, ValueError) as exc:
        raise UnsupportedContentError(f"skipped: unreadable HTML ({exc})") from exc
    meta = _head_meta(tree)
    language = tree.get("lang") or meta.get("content-language")
    date = next((meta[key] for key in _DATE_KEYS if meta.get(key)), None)
    title = _html_title(tree, meta)
    # One parse serves both our metadata and trafilatura; the metadata is read before the
    # unwrapping below changes the tree (trafilatura itself does not mutate it).
    prepare_for_extraction(tree)
    text = trafilatura.extract(
        tree,
        url=url,
        output_format="markdown",
        include_formatting=True,
        include_comments=False,
        fast=fast,
    )
    return CleanDocument(
        title=title,
        text=text or "",
        content_type="text/html",
        language=(language or "").split("-")[0].lower() or None,
        date=date[:10] if date else None,
        icon_url=declared_icon(tree, url),
    )


def clean_text(text: str, url: str, content_type: str) -> CleanDocument:
    """Plain text and Markdown pass through; the title is the first heading or line."""
    text = text.replace("\r\n", "\n").strip()
    return CleanDocument(
        title=_title_from_text(text) or _title_from_url(url), text=text, content_type=content_type
    )


def clean_pdf(body: bytes, url: str) -> CleanDocument:
    """Text of a PDF through pypdf, page by page; a broken PDF is a clear skip."""
    import pypdf  # imported here: only PDFs pay for it

    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        if reader.is_encrypted:
            raise UnsupportedContentError("skipped: encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
        info_title = (reader.metadata.title if reader.metadata else None) or ""
    except UnsupportedContentError:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files
        logger.info("cannot read PDF %s: %r", url, exc)
        raise UnsupportedContentError(f"skipped: unreadable PDF ({type(exc).__name__})") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise UnsupportedContentError("skipped: PDF without extractable text (scanned?)")
    title = str(info_title).strip() or _title_from_text(text) or _title_from_url(url)
    return CleanDocument(title=title, text=text, content_type="application/pdf")


def _head_meta(tree: lxml.html.HtmlElement) -> dict[str, str]:
    """<meta> name/property/http-equiv -> content, from <head> only (one cheap pass)."""
    head = tree.find("head")
    found: dict[str, str] = {}
    if head is None:
        return found
    for element in head.iter("meta"):
        key = (
            element.get("property")
            or element.get("name")
            or element.get("itemprop")
            or element.get("http-equiv")
        )
        content = element.get("content")
        if key and content and key.lower() not in found:
            found[key.lower()] = content.strip()
    title = head.findtext("title")
    if title:
        found.setdefault("<title>", title)
    return found


def _html_title(tree: lxml.html.HtmlElement, meta: dict[str, str]) -> str:
    title = meta.get("og:title") or meta.get("<title>")
    if not title:
        heading = tree.find(".//h1")
        title = heading.text_content() if heading is not None else ""
    return _HEADERLINK.sub("", " ".join(title.split()))


def _inline_code(match: re.Match[str]) -> str:
    code = " ".join(match["code"].split())
    if len(code) > MAX_INLINE_CODE_CHARS or not _WORD.search(match["lead"]):
        return match[0]  # a block of its own, or a list item that is one ("- ```")
    return f"{match['lead']} `{code}`"


def _tidy_markdown(text: str) -> str:
    text = _FRONT_MATTER.sub("", text)
    text = _INLINE_FENCE.sub(_inline_code, text)
    text = _TRAILING_SPACE.sub("", _HEADERLINK.sub("", text))
    # Markdown escapes (`user\_function`) hurt matching and quoting; the model reads them raw.
    return _MD_ESCAPE.sub(r"\1", text).strip()


def _title_from_text(text: str) -> str:
    for line in text.splitlines()[:20]:
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return ""


def _title_from_url(url: str) -> str:
    path = PurePosixPath(unquote(urlsplit(url).path))
    return path.name or urlsplit(url).netloc or url
