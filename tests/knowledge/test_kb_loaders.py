"""Loading files: Markdown, HTML, text, PDF and tau2-style JSON; clear errors for the rest."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import pytest
from kb_support import make_pdf

from knowledge.chunking import chunk_markdown
from knowledge.loaders import DocumentError, UnreadableDocument, UnsupportedDocument, load_document


def zlib_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


HTML = b"""<!doctype html><html><head><title>Tent Care | Northbeam</title><style>.x{color:red}</style>
<script>alert('hi')</script></head><body><nav>Home | Shop</nav>
<h1>Tent care</h1><p>Dry the <b>NB-TENT-2P</b> before storing it.</p>
<h2>Cleaning</h2><ul><li>Use cool water</li><li>No detergent</li></ul>
<div><h3>Poles</h3><p>Spare section included.</p></div><footer>(c) Northbeam</footer></body></html>"""


def test_html_keeps_headings_and_text_and_drops_scripts_and_chrome() -> None:
    document = load_document("tent-care.html", HTML)
    assert document.title == "Tent Care | Northbeam"
    assert "alert" not in document.markdown and "color:red" not in document.markdown
    assert "Home | Shop" not in document.markdown and "(c) Northbeam" not in document.markdown
    title, chunks = chunk_markdown(document.markdown)
    assert title == "Tent care"
    assert [(c.section, c.text) for c in chunks] == [
        ("", "Dry the NB-TENT-2P before storing it."),
        ("Cleaning", "- Use cool water\n\n- No detergent"),
        ("Cleaning > Poles", "Spare section included."),
    ]


def test_pdf_pages_become_sections_and_the_metadata_title_is_used() -> None:
    data = make_pdf(
        ["Warranty covers the NB-STOVE-1B igniter.", "Claims: warranty@northbeam.example"], "Warranty"
    )
    document = load_document("warranty.pdf", data)
    assert document.title == "Warranty"
    _, chunks = chunk_markdown(document.markdown)
    assert [(c.section, c.text) for c in chunks] == [
        ("Page 1", "Warranty covers the NB-STOVE-1B igniter."),
        ("Page 2", "Claims: warranty@northbeam.example"),
    ]


def test_tau2_style_json_gives_title_content_and_external_id() -> None:
    data = json.dumps({"id": "doc_x_001", "title": "Internal: Opening", "content": "## Steps\n\n1. Verify."})
    document = load_document("doc_x_001.json", data.encode())
    assert (document.title, document.external_id, document.markdown) == (
        "Internal: Opening",
        "doc_x_001",
        "## Steps\n\n1. Verify.",
    )


def test_text_is_decoded_with_a_bom_or_as_windows_1252() -> None:
    assert load_document("a.txt", "\ufeffcafé".encode()).markdown == "café"
    assert load_document("b.txt", "naïve".encode("cp1252")).markdown == "naïve"


@pytest.mark.parametrize(
    ("filename", "data", "error", "reason"),
    [
        ("slides.pptx", b"PK\x03\x04...", UnsupportedDocument, "unsupported file type .pptx"),
        ("README", b"hello", UnsupportedDocument, r"unsupported file type \(none\)"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", UnreadableDocument, "not a readable PDF"),
        ("blank.pdf", make_pdf([""]), UnreadableDocument, "no extractable text"),
        ("empty.md", b"  \n", UnreadableDocument, "empty"),
        ("binary.txt", b"\x00\x01\x02binary", UnreadableDocument, "binary"),
        ("bad.json", b"{not json", UnreadableDocument, "invalid JSON"),
        ("list.json", b"[1, 2]", UnreadableDocument, '"content" string'),
        ("script.html", b"<html><script>x()</script></html>", UnreadableDocument, "no readable text"),
    ],
)
def test_unsupported_and_corrupt_files_raise_a_clear_value_error(
    filename: str, data: bytes, error: type[DocumentError], reason: str
) -> None:
    with pytest.raises(error, match=reason) as caught:
        load_document(filename, data)
    assert isinstance(caught.value, ValueError) and filename in str(caught.value)


def test_deeply_nested_html_is_read_without_recursion() -> None:
    deep = b"<div>" * 20_000 + b"<p>Still here.</p>" + b"</div>" * 20_000
    assert load_document("deep.html", deep).markdown == "Still here."
    # Unclosed list items nest in the parser: 20,000 levels, each its own paragraph.
    items = b"<ul>" + b"".join(b"<li>item %d" % n for n in range(20_000)) + b"</ul>"
    markdown = load_document("items.html", items).markdown
    assert markdown.count("item ") == 20_000 and markdown.startswith("item 0\n\nitem 1")


def test_a_nine_megabyte_html_page_is_read_in_one_linear_pass() -> None:
    # Mostly markup, as large pages are: nested wrappers, inline tags, attributes.
    wrapper = b'<div class="card"><section><div><span class="x">' * 40 + b"</span></div></section></div>" * 40
    paragraph = b'<div class="row"><p>Returns within <b>30 days</b>.</p>' + wrapper + b"</div>\n"
    page = b"<html><body><h1>Returns</h1>" + paragraph * (9_000_000 // len(paragraph)) + b"</body></html>"
    assert len(page) > 8_900_000
    markdown = load_document("big.html", page).markdown
    assert markdown.startswith("# Returns\n\nReturns within 30 days .")
    assert markdown.count("Returns within") == 9_000_000 // len(paragraph)


def test_more_text_than_one_document_may_hold_is_refused_before_indexing() -> None:
    from knowledge.loaders import MAX_DOCUMENT_CHARS, DocumentTooLong

    paragraph = b"<p>Returns are accepted within 30 days of delivery.</p>\n"
    page = paragraph * (MAX_DOCUMENT_CHARS // 40)  # about 50 characters of text per paragraph
    with pytest.raises(DocumentTooLong, match="split it") as caught:
        load_document("long.html", page)
    assert isinstance(caught.value, UnreadableDocument)  # a 422 through the API


def test_deeply_nested_json_is_unreadable_not_a_crash() -> None:
    data = b'{"title": "x", "content": "y", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(UnreadableDocument, match="nested too deeply"):
        load_document("deep.json", data)


@pytest.mark.parametrize(
    ("filename", "data", "kind"),
    [
        ("page.html", gzip.compress(b"<p>hello world</p>" * 100), "gzip"),
        ("notes.md", gzip.compress(b"# hello\n\nworld " * 100), "gzip"),
        ("article.txt", zlib_archive(), "ZIP"),
        ("random.htm", bytes(range(1, 256)) * 40, "not decodable text"),
    ],
    ids=["gzip-html", "gzip-md", "zip-txt", "binary-htm"],
)
def test_binary_content_behind_a_text_suffix_is_refused(filename: str, data: bytes, kind: str) -> None:
    with pytest.raises(UnsupportedDocument, match=kind):
        load_document(filename, data)
