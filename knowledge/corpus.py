"""An in-memory copy of one tenant's chunk texts and metadata, with the BM25 index built over them."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from knowledge.keyword import BM25Index, term_counts

_PAGE = 5000  # chunks fetched from Chroma per request when (re)loading


@dataclass
class StoredChunk:
    text: str
    meta: dict[str, Any]


@dataclass
class TenantCorpus:
    """Mirrors a tenant's collection; kept current by our own writes and reloaded when its revision moves.

    Chroma has no keyword index of its own that ranks (its `$contains` filter only matches), so the keyword
    side lives here; the same copy serves document listings without another round trip.
    """

    revision: str
    checked_at: float
    chunks: dict[str, StoredChunk] = field(default_factory=dict)
    _counts: dict[str, Counter[str]] = field(default_factory=dict)
    _bm25: BM25Index | None = None
    _titles: BM25Index | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def load(cls, collection: Any, revision: str, now: float) -> TenantCorpus:
        corpus = cls(revision=revision, checked_at=now)
        offset = 0
        while True:
            page = collection.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            for chunk_id, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
                corpus.chunks[chunk_id] = StoredChunk(text or "", dict(meta or {}))
            if len(page["ids"]) < _PAGE:
                return corpus
            offset += _PAGE

    @staticmethod
    def keyword_text(text: str, meta: dict[str, Any]) -> str:
        return f"{meta.get('title', '')}\n{meta.get('section', '')}\n{text}"

    def put(self, chunk_id: str, text: str, meta: dict[str, Any]) -> None:
        with self.lock:
            self.chunks[chunk_id] = StoredChunk(text, meta)
            self._counts.pop(chunk_id, None)
            self._bm25 = self._titles = None

    def remove(self, chunk_id: str) -> None:
        with self.lock:
            self.chunks.pop(chunk_id, None)
            self._counts.pop(chunk_id, None)
            self._bm25 = self._titles = None

    def bm25(self) -> BM25Index:
        """Built lazily after changes; per-chunk term counts are cached, so a rebuild re-reads only edits."""
        with self.lock:
            if self._bm25 is None:
                for chunk_id, chunk in self.chunks.items():
                    if chunk_id not in self._counts:
                        self._counts[chunk_id] = term_counts([self.keyword_text(chunk.text, chunk.meta)])
                self._bm25 = BM25Index({cid: self._counts[cid] for cid in self.chunks})
            return self._bm25

    def titles(self) -> BM25Index:
        """BM25 over document titles alone, one entry per document (its first chunk's id stands for it).

        A title names what a whole document is about; in the chunk index it is one line among many, so a
        query naming a product or a procedure ranks that document's chunks no higher than any passage
        mentioning it in passing. Fused as a ranking of its own, it boosts them.
        """
        with self.lock:
            if self._titles is None:
                first: dict[str, str] = {}
                for chunk_id, chunk in sorted(self.chunks.items()):
                    first.setdefault(str(chunk.meta.get("document_id", chunk_id)), chunk_id)
                self._titles = BM25Index(
                    {
                        cid: term_counts([str(self.chunks[cid].meta.get("title", ""))])
                        for cid in first.values()
                    }
                )
            return self._titles

    def chunk_ids_of(self, document_id: str) -> list[str]:
        return [cid for cid, chunk in self.chunks.items() if chunk.meta.get("document_id") == document_id]
