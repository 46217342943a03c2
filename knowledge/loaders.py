"""Turn uploaded or on-disk files (Markdown, HTML, text, PDF, tau2-style JSON) into Markdown text.

DocumentError (ValueError)     safe to show to the uploader
├── UnsupportedDocument        the file type is not one we read (HTTP 415)
└── UnreadableDocument         the type is supported but the content is corrupt or empty (HTTP 422)
    └── DocumentTooLong        more text than one document may hold: split it (HTTP 422)
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".txt", ".pdf", ".json"})


class DocumentError(ValueError):
    """A file could not be ingested; the message names the file and the reason."""


class UnsupportedDocument(DocumentError):
    pass


class UnreadableDocument(DocumentError):
    pass


class DocumentTooLong(UnreadableDocument):
    pass


# Indexing time grows with the text (every chunk is embedded): a help article is a few thousand words,
# so one document's text is capped, which bounds what a single upload can cost.
MAX_DOCUMENT_CHARS = 1_000_000


@dataclass(frozen=True)
class LoadedDocument:
    markdown: str
    title: str | None  # None: the chunker takes the leading H1 or the caller falls back to the file name
    external_id: str | None = None  # an id the source system gave the document (tau2 JSON "id")


# Compressed or binary formats that must not be read as text whatever the file is called.
_BINARY_MAGIC = {
    b"\x1f\x8b": "gzip-compressed data",
    b"PK\x03\x04": "a ZIP archive",
    b"BZh": "bzip2-compressed data",
    b"\xfd7zXZ\x00": "xz-compressed data",
    b"(\xb5/\xfd": "zstd-compressed data",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
    b"%PDF-": "a PDF",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
}
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_MAX_CONTROL_SHARE = 0.01  # real text has next to no control characters; binary data has many


def _decode(filename: str, data: bytes) -> str:
    for magic, kind in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise UnsupportedDocument(f"{filename}: the content is {kind}, not text")
    if b"\x00" in data[:4096]:
        raise UnreadableDocument(f"{filename}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")  # the usual non-UTF-8 text; latin-1 bytes map too
    sample = text[:65536]
    if len(_CONTROL.findall(sample)) + sample.count("\ufffd") > _MAX_CONTROL_SHARE * len(sample):
        raise UnsupportedDocument(f"{filename}: the content is not decodable text")
    return text


def _load_text(filename: str, data: bytes) -> LoadedDocument:
    return LoadedDocument(markdown=_decode(filename, data), title=None)


_HTML_DROP = frozenset(
    {"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "form", "iframe", "head"}
)
_HTML_BLOCKS = frozenset(
    {"p", "li", "pre", "blockquote", "tr", "dt", "dd", "figcaption", "caption", "summary", "address"}
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


@dataclass
class _Open:
    """An element still open while the page streams by; `start` is where its output begins."""

    name: str
    start: int
    texts: list[str]
    has_block: bool = False  # a block or heading inside: not a leaf, its pieces stay as they are


class _HtmlText(HTMLParser):
    """One pass, no tree, no recursion: headings become `#` lines, leaf blocks become paragraphs, loose
    text is kept, chrome (scripts, navigation, forms...) is dropped. Linear in the page's size.

    A block's text is only known to be a leaf paragraph when it closes: until then each text piece is
    written out on its own, and a leaf's pieces (the last entries of the output) are joined on close.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title: str | None = None
        self._stack: list[_Open] = []
        self._blocks: list[_Open] = []  # the open blocks, innermost last (a subsequence of the stack)
        self._dropping = 0  # open elements whose content is dropped (the innermost drop is on the stack)
        self._title: list[str] | None = None
        self._heading: _Open | None = None  # inside a heading everything is its text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        if tag == "title" and self.title is None and self._title is None:
            self._title = []
        frame = _Open(tag, len(self.out), [])
        if self._dropping or tag in _HTML_DROP:
            self._push(frame)
            self._dropping += 1
            return
        if self._heading is None and (tag in _HEADINGS or tag in _HTML_BLOCKS):
            outer = self._block()
            if outer is not None:
                outer.has_block = True
            if tag in _HEADINGS:
                self._heading = frame
        self._push(frame)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth].name == tag:
                while len(self._stack) > depth:
                    self._close(self._pop())
                return

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)
            return
        if self._dropping or not data.strip():
            return
        owner = self._heading or self._block()
        if owner is not None:
            owner.texts.append(data)
        if self._heading is None:
            self.out.append(" ".join(data.split()))

    def close(self) -> None:
        super().close()
        while self._stack:
            self._close(self._pop())

    def _push(self, frame: _Open) -> None:
        self._stack.append(frame)
        if frame.name in _HTML_BLOCKS:
            self._blocks.append(frame)

    def _pop(self) -> _Open:
        frame = self._stack.pop()
        if self._blocks and self._blocks[-1] is frame:
            self._blocks.pop()
        return frame

    def _block(self) -> _Open | None:
        """The innermost open block (inline elements such as <b> do not count)."""
        return self._blocks[-1] if self._blocks else None

    def _close(self, frame: _Open) -> None:
        if frame.name == "title" and self._title is not None:
            self.title = " ".join("".join(self._title).split()) or None
            self._title = None
        if self._dropping:
            self._dropping -= 1
            return
        if frame is self._heading:
            self._heading = None
            text = " ".join(t.strip() for t in frame.texts if t.strip())
            if text:
                self.out.append("#" * _HEADINGS[frame.name] + " " + text)
        elif frame.name in _HTML_BLOCKS and not frame.has_block:
            separator = "\n" if frame.name == "pre" else " "
            text = separator.join(t.strip() for t in frame.texts if t.strip())
            del self.out[frame.start :]  # its loose pieces, replaced by the one paragraph
            if text:
                self.out.append(("- " if frame.name == "li" else "") + text)


def _load_html(filename: str, data: bytes) -> LoadedDocument:
    parser = _HtmlText()
    parser.feed(_decode(filename, data))
    parser.close()
    markdown = "\n\n".join(parser.out)
    if not markdown.strip():
        raise UnreadableDocument(f"{filename}: no readable text in this HTML page")
    return LoadedDocument(markdown=markdown, title=parser.title)


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
    except RecursionError:
        raise UnreadableDocument(f"{filename}: the JSON is nested too deeply") from None
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
    if len(document.markdown) > MAX_DOCUMENT_CHARS:
        raise DocumentTooLong(
            f"{filename}: {len(document.markdown):,} characters of text; split it into documents of at most "
            f"{MAX_DOCUMENT_CHARS:,}"
        )
    if not re.search(r"\w", document.markdown):
        raise UnreadableDocument(f"{filename}: no text to index")
    return document
