"""Turn uploaded or on-disk files (Markdown, HTML, text, PDF, tau2-style JSON) into Markdown text.

DocumentError (ValueError)     safe to show to the uploader
├── UnsupportedDocument        the file type is not one we read (HTTP 415)
└── UnreadableDocument         the type is supported but the content is corrupt or empty (HTTP 422)
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import PurePath

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".txt", ".pdf", ".json"})


class DocumentError(ValueError):
    """A file could not be ingested; the message names the file and the reason."""


class UnsupportedDocument(DocumentError):
    pass


class UnreadableDocument(DocumentError):
    pass


@dataclass(frozen=True)
class LoadedDocument:
    markdown: str
    title: str | None  # None: the chunker takes the leading H1 or the caller falls back to the file name
    external_id: str | None = None  # an id the source system gave the document (tau2 JSON "id")


def _decode(filename: str, data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise UnreadableDocument(f"{filename}: looks like a binary file, not text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _load_text(filename: str, data: bytes) -> LoadedDocument:
    return LoadedDocument(markdown=_decode(filename, data), title=None)


_HTML_DROP = ("script", "style", "noscript", "template", "svg", "nav", "header", "footer", "form", "iframe")
_HTML_BLOCKS = frozenset(
    {"p", "li", "pre", "blockquote", "tr", "dt", "dd", "figcaption", "caption", "summary", "address"}
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


def _html_blocks(node: object, out: list[str]) -> None:
    """Depth-first: headings become `#` lines, leaf blocks become paragraphs, loose text is kept."""
    from bs4 import NavigableString, Tag

    for child in getattr(node, "children", []):
        if isinstance(child, NavigableString):
            if type(child) is NavigableString and child.strip():  # skip comments, doctype, CDATA
                out.append(" ".join(child.split()))
        elif isinstance(child, Tag):
            if child.name in _HEADINGS:
                text = child.get_text(" ", strip=True)
                if text:
                    out.append("#" * _HEADINGS[child.name] + " " + text)
            elif child.name in _HTML_BLOCKS and not child.find([*_HTML_BLOCKS, *_HEADINGS]):
                separator = "\n" if child.name == "pre" else " "
                text = child.get_text(separator, strip=True)
                if text:
                    out.append(("- " if child.name == "li" else "") + text)
            else:
                _html_blocks(child, out)


def _load_html(filename: str, data: bytes) -> LoadedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    page_title = soup.title.get_text(strip=True) if soup.title else None
    if soup.title:
        soup.title.decompose()
    blocks: list[str] = []
    _html_blocks(soup.body or soup, blocks)
    markdown = "\n\n".join(blocks)
    if not markdown.strip():
        raise UnreadableDocument(f"{filename}: no readable text in this HTML page")
    return LoadedDocument(markdown=markdown, title=page_title or None)


def _load_pdf(filename: str, data: bytes) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument(f"{filename}: the PDF is password-protected")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except UnreadableDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableDocument(f"{filename}: not a readable PDF ({exc.__class__.__name__})") from exc
    if not any(pages):
        raise UnreadableDocument(f"{filename}: the PDF has no extractable text (scanned images?)")
    # Pages are the only structure a PDF reliably has; they also make citations findable.
    markdown = "\n\n".join(f"## Page {n}\n\n{text}" for n, text in enumerate(pages, start=1) if text)
    return LoadedDocument(markdown=markdown, title=(meta_title or "").strip() or None)


def _load_json(filename: str, data: bytes) -> LoadedDocument:
    try:
        payload = json.loads(_decode(filename, data))
    except json.JSONDecodeError as exc:
        raise UnreadableDocument(f"{filename}: invalid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("content"), str):
        raise UnreadableDocument(f'{filename}: JSON documents need a "content" string (and a "title")')
    title = payload.get("title") if isinstance(payload.get("title"), str) else None
    external_id = payload.get("id") if isinstance(payload.get("id"), str) else None
    return LoadedDocument(markdown=payload["content"], title=title, external_id=external_id)


_LOADERS = {
    ".md": _load_text,
    ".markdown": _load_text,
    ".txt": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".json": _load_json,
}


def load_document(filename: str, data: bytes) -> LoadedDocument:
    """Dispatch on the file name's suffix; raises a `DocumentError` with a reason, never anything else."""
    suffix = PurePath(filename).suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedDocument(f"{filename}: unsupported file type {suffix or '(none)'}; use {supported}")
    if not data.strip():
        raise UnreadableDocument(f"{filename}: the file is empty")
    document = loader(filename, data)
    if not re.search(r"\w", document.markdown):
        raise UnreadableDocument(f"{filename}: no text to index")
    return document
