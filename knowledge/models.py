"""What the knowledge base stores and returns: chunk records, passages with citation data, reports."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from knowledge.injection import detect_injection


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk as stored in Chroma: the id is positional within its section, the hash covers its content."""

    chunk_id: str
    document_id: str
    title: str
    section: str
    source: str
    text: str
    ingested_at: str  # ISO 8601, UTC
    external_id: str = ""

    @property
    def embed_text(self) -> str:
        """Title and section go into the vector too: a bare paragraph often lacks its subject."""
        heading = f"{self.title} > {self.section}" if self.section else self.title
        return f"{heading}\n{self.text}"

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.title}\x1f{self.section}\x1f{self.text}".encode()).hexdigest()[:32]

    def metadata(self) -> dict[str, str]:
        return {
            "document_id": self.document_id,
            "title": self.title,
            "section": self.section,
            "source": self.source,
            "content_hash": self.content_hash,
            "ingested_at": self.ingested_at,
            "external_id": self.external_id,
        }


class Passage(BaseModel):
    """A retrieved chunk with what a reply needs to cite it. `flagged`: it contains instructions to an AI."""

    chunk_id: str
    document_id: str
    title: str
    section: str
    source: str
    text: str
    score: float
    flagged: bool = False
    flag_reasons: list[str] = Field(default_factory=list)

    @classmethod
    def from_stored(cls, chunk_id: str, text: str, meta: dict[str, Any], score: float) -> Passage:
        reasons = detect_injection(text)
        return cls(
            chunk_id=chunk_id,
            document_id=str(meta.get("document_id", "")),
            title=str(meta.get("title", "")),
            section=str(meta.get("section", "")),
            source=str(meta.get("source", "")),
            text=text,
            score=score,
            flagged=bool(reasons),
            flag_reasons=reasons,
        )


class DocumentInfo(BaseModel):
    document_id: str
    title: str
    source: str
    chunks: int = Field(ge=0)
    ingested_at: datetime | None = None
    external_id: str | None = None


class SkippedFile(BaseModel):
    path: str
    reason: str


class IngestReport(BaseModel):
    """What one ingestion run changed; `skipped` lists files that were not ingested and why."""

    documents: int = 0  # documents read successfully (changed or not)
    chunks_added: int = 0
    chunks_updated: int = 0
    chunks_unchanged: int = 0
    chunks_deleted: int = 0
    documents_deleted: int = 0
    document_ids: list[str] = Field(default_factory=list)
    skipped: list[SkippedFile] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.chunks_added or self.chunks_updated or self.chunks_deleted)

    def summary(self) -> str:
        return (
            f"{self.documents} documents: {self.chunks_added} chunks added, {self.chunks_updated} updated, "
            f"{self.chunks_unchanged} unchanged, {self.chunks_deleted} deleted"
            + (f"; {self.documents_deleted} documents removed" if self.documents_deleted else "")
            + (f"; {len(self.skipped)} files skipped" if self.skipped else "")
        )
