"""Cleaning: HTML to Markdown with metadata, text as is, PDF text, binaries refused, encodings."""

from __future__ import annotations

import pytest

from retrieval.clean import clean_document, decode_text, media_type, sniff_binary
from retrieval.errors import UnsupportedContentError

BLOG = """<!doctype html><html lang="de-AT"><head><title>Ignored tab title</title>
<meta property="og:title" content="Die Leuchttürme der Nordsee">
<meta property="article:published_time" content="2024-03-05T08:00:00Z"></head><body>
<header><nav><a href="/">Start</a> <a href="/blog">Blog</a> <a href="/impressum">Impressum</a></nav></header>
<main><article><h1>Die Leuchttürme der Nordsee</h1>
<p>Die Leuchtturmwärter an der Nordseeküste hielten ihre Lampen die ganzen Winternächte hindurch
am Brennen und schrieben jedes vorbeifahrende Schiff in ihre Logbücher.</p>
<h2>Das Logbuch</h2>
<p>Die Logbücher verzeichnen Wetter, Seegang und die Namen der Schiffe; sie sind heute die beste
Quelle für den Küstenverkehr des neunzehnten Jahrhunderts. Der Wärter trug alles mit Tinte ein.</p>
</article></main><footer>© 2024 Küstenblog · Datenschutz · Cookie-Einstellungen</footer></body></html>"""  # noqa: E501


def make_pdf(text: str) -> bytes:
    """A minimal one-page PDF with real text objects (xref offsets computed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_html_main_text_as_markdown_with_metadata() -> None:
    doc = clean_document(BLOG.encode(), "text/html", "https://blog.example/leuchttuerme")
    assert doc.title == "Die Leuchttürme der Nordsee"
    assert doc.language == "de"
    assert doc.date == "2024-03-05"
    assert "## Das Logbuch" in doc.text  # headings kept
    assert "Logbücher verzeichnen Wetter" in doc.text
    for boilerplate in ("Impressum", "Datenschutz", "Cookie"):
        assert boilerplate not in doc.text


def test_markdown_and_text_pass_through() -> None:
    md = clean_document(
        b"# Notes\n\nSome *text* with `code_name`.\n", "text/markdown", "file:///n.md"
    )
    assert md.title == "Notes" and md.text == "# Notes\n\nSome *text* with `code_name`."
    txt = clean_document(b"Plain line one\r\nline two", "text/plain", "https://x/a.txt")
    assert txt.content_type == "text/plain" and txt.text == "Plain line one\nline two"


def test_pdf_text_is_extracted_and_broken_pdf_is_a_clear_skip() -> None:
    doc = clean_document(
        make_pdf("Spring tides follow the full moon"), "application/pdf", "https://x/t.pdf"
    )
    assert "Spring tides follow the full moon" in doc.text
    assert doc.content_type == "application/pdf"
    with pytest.raises(UnsupportedContentError, match="unreadable PDF|without extractable text"):
        clean_document(b"%PDF-1.4\n garbage", "application/pdf", "https://x/broken.pdf")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "text/html", "skipped: PNG image served as text/html"),
        (b"PK\x03\x04rest", "text/plain", "skipped: ZIP archive served as text/plain"),
        (b"\x7fELF\x02\x01", "", "skipped: ELF executable served as (none)"),
        (b"abc\x00\x01\x02", "text/html", "skipped: binary data served as text/html"),
        (b"GIF89a....", "image/gif", "skipped: GIF image"),
        (b"just bytes", "application/octet-stream", "skipped: unsupported content type"),
        (b"{}", "video/mp4", "skipped: unsupported content type video/mp4"),
    ],
)
def test_binaries_are_refused_with_a_reason(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(UnsupportedContentError) as info:
        clean_document(body, content_type, "https://x/file")
    assert str(info.value).startswith(reason)


def test_encodings_never_crash() -> None:
    text = "Grüße aus Köln — “quoted” ½"
    assert decode_text(text.encode("cp1252"), "windows-1252") == text
    assert decode_text(f'<meta charset="iso-8859-15">{text[:14]}'.encode("iso-8859-15")).endswith(
        "Grüße aus Köln"
    )
    assert decode_text(text.encode("utf-16")).startswith("Grüße")  # BOM
    assert decode_text(text.encode("utf-8"), "no-such-charset") == text  # bad label ignored
    assert isinstance(decode_text(bytes(range(128, 256)) * 3), str)  # garbage still decodes
    assert sniff_binary("ü".encode("utf-16")) is None
    assert media_type('text/html; Charset="ISO-8859-1"') == ("text/html", "ISO-8859-1")
    assert media_type(None) == ("", None)


def test_cleaning_from_many_threads_matches_sequential_cleaning(docs_root) -> None:
    """The fetcher cleans pages in worker threads; trafilatura's shared XPath objects once
    crashed the process (segfault) when two threads pruned at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = [path.read_bytes() for path in sorted((docs_root / "library").glob("*.html"))[:40]]

    def clean(body: bytes) -> str:
        return clean_document(body, "text/html", "http://127.0.0.1/page.html").text

    sequential = [clean(body) for body in bodies]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(2):
            assert list(pool.map(clean, bodies)) == sequential


def test_api_constants_with_linked_code_are_kept(docs_root) -> None:
    # trafilatura dropped these two Sphinx entries (their text is mostly linked `<code>`).
    page = (docs_root / "library" / "datetime.html").read_bytes()
    text = " ".join(
        clean_document(page, "text/html", "http://127.0.0.1/datetime.html").text.split()
    )
    assert "The smallest year number allowed in a date or datetime object. MINYEAR is 1." in text
    assert "The largest year number allowed in a date or datetime object. MAXYEAR is 9999." in text
    assert "```" in text  # code blocks stay code blocks


def test_pages_are_parsed_and_walked_under_the_process_wide_lxml_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """lxml work on pages runs one page at a time: two fetch threads cleaning pages at once
    aborted a CI run inside lxml. Cleaning and link extraction parse under the lock."""
    import lxml.html

    from retrieval import clean, crawl

    parse = lxml.html.document_fromstring
    held: list[bool] = []

    def checked(html: str, *args: object, **kwargs: object) -> object:
        held.append(clean.LXML_LOCK.locked())
        return parse(html, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lxml.html, "document_fromstring", checked)
    page = "<html><head><title>T</title></head><body><p>Some text here.</p></body></html>"
    clean.clean_html(page, "http://example.com/")
    crawl.extract_links(page.encode(), "http://example.com/")
    assert len(held) >= 2 and all(held)
    assert not clean.LXML_LOCK.locked()


def test_a_sitemap_is_parsed_under_the_lxml_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    from lxml import etree

    from retrieval import clean, crawl

    parse = etree.fromstring
    held: list[bool] = []

    def checked(text: bytes, *args: object, **kwargs: object) -> object:
        held.append(clean.LXML_LOCK.locked())
        return parse(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(etree, "fromstring", checked)
    sitemap = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>http://example.com/a.html</loc></url></urlset>"
    )
    assert crawl._sitemap_urls(sitemap) == (["http://example.com/a.html"], [])
    assert held == [True]
    assert not clean.LXML_LOCK.locked()
