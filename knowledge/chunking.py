"""Heading-aware chunking of Markdown: each chunk keeps its title and the path of headings above it."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 900  # ~200 MiniLM tokens: leaves room for the title/section prefix under 256
SECTION_SEPARATOR = " > "

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Section:
    headings: tuple[str, ...]  # below the document title
    body: str

    @property
    def path(self) -> str:
        return SECTION_SEPARATOR.join(self.headings)


@dataclass(frozen=True)
class Chunk:
    section: str  # "Heading > Subheading", "" before the first heading
    text: str
    index_in_section: int


def _clean_heading(text: str) -> str:
    text = re.sub(r"[*_`]+", "", text)  # inline emphasis/code markers
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links -> their text
    return text.strip()


def split_front_matter(markdown: str) -> tuple[str | None, str]:
    """Strip a leading YAML front-matter block; return its `title:` if any."""
    if not markdown.startswith("---\n"):
        return None, markdown
    end = markdown.find("\n---", 4)
    if end < 0:
        return None, markdown
    block = markdown[4:end]
    found = _FRONT_MATTER_TITLE.search(block)
    title = found.group(1).strip("\"'") if found else None
    return title, markdown[end + 4 :].lstrip("\n")


def split_sections(markdown: str) -> tuple[str | None, list[Section]]:
    """Split on ATX and setext headings (not inside code fences); a single leading H1 becomes the title."""
    front_title, markdown = split_front_matter(markdown.replace("\r\n", "\n").replace("\r", "\n"))
    lines = markdown.split("\n")
    headings: list[tuple[int, str]] = []  # (level, text) stack
    title: str | None = front_title
    sections: list[Section] = []
    body: list[str] = []
    fence: str | None = None

    def flush() -> None:
        text = "\n".join(body).strip()
        if text:
            sections.append(Section(tuple(h for _, h in headings), text))
        body.clear()

    def open_heading(level: int, text: str) -> None:
        nonlocal title
        flush()
        if level == 1 and title is None and not sections and not headings:
            title = text  # the document's own title, not a section
            return
        while headings and headings[-1][0] >= level:
            headings.pop()
        headings.append((level, text))

    for line in lines:
        fence_match = _FENCE.match(line)
        if fence is not None:
            body.append(line)
            closing = fence_match.group(1) if fence_match else ""
            if closing[:1] == fence[0] and len(closing) >= len(fence):
                fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            body.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            open_heading(len(atx.group(1)), _clean_heading(atx.group(2)))
            continue
        setext = _SETEXT.match(line)
        if setext and body and body[-1].strip() and not body[-1].lstrip().startswith(("-", "*", "|", ">")):
            heading_text = body.pop()
            open_heading(1 if setext.group(1)[0] == "=" else 2, _clean_heading(heading_text))
            continue
        body.append(line)
    flush()
    return title, sections


def _split_long(block: str, max_chars: int) -> list[str]:
    """Split an oversized paragraph on sentence ends, then lines, then words."""
    pieces = _SENTENCE_END.split(block)
    if len(pieces) == 1:
        pieces = block.split("\n")
    if len(pieces) == 1:
        pieces = block.split(" ")
        if len(pieces) == 1:  # one enormous token: cut it
            return [block[i : i + max_chars] for i in range(0, len(block), max_chars)]
    return _pack(pieces, max_chars, joiner=" " if " " in block and "\n" not in block else "\n")


def _pack(blocks: list[str], max_chars: int, joiner: str) -> list[str]:
    out: list[str] = []
    current = ""
    for block in blocks:
        block = block.strip()
        if not block:
            continue
        if len(block) > max_chars:
            if current:
                out.append(current)
                current = ""
            out.extend(_split_long(block, max_chars))
            continue
        candidate = f"{current}{joiner}{block}" if current else block
        if len(candidate) <= max_chars:
            current = candidate
        else:
            out.append(current)
            current = block
    if current:
        out.append(current)
    return out


def chunk_sections(sections: list[Section], max_chars: int = DEFAULT_MAX_CHARS) -> list[Chunk]:
    """Pack each section's paragraphs into chunks of at most `max_chars`; sections never mix."""
    chunks: list[Chunk] = []
    for section in sections:
        paragraphs = re.split(r"\n[ \t]*\n", section.body)
        for i, text in enumerate(_pack(paragraphs, max_chars, joiner="\n\n")):
            chunks.append(Chunk(section=section.path, text=text, index_in_section=i))
    return chunks


def chunk_markdown(markdown: str, max_chars: int = DEFAULT_MAX_CHARS) -> tuple[str | None, list[Chunk]]:
    """Title (front matter or leading H1, if any) and the chunks of a Markdown document."""
    title, sections = split_sections(markdown)
    return title, chunk_sections(sections, max_chars)
