"""Citation feedback: documents that answered similar past questions, ranked for a new question."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction


@dataclass(frozen=True)
class Resolved:
    """One past question and the documents its answer needed (cited, or marked by staff)."""

    question: str
    documents: frozenset[str]


class CitationFeedback:
    """Nearest past questions by cosine similarity of their embeddings; their documents, weighted by it.

    Help-centre wording and customer wording differ most on procedural documents (an internal "how to look
    up accounts" page that no customer names); the questions that needed such a page before are the best
    evidence that a new one does too. It ranks documents, not chunks: callers fuse it with the search.
    """

    def __init__(self, embedder: EmbeddingFunction[Documents], neighbours: int = 5) -> None:
        self.embedder = embedder
        self.neighbours = neighbours
        self._resolved: list[Resolved] = []
        self._vectors: npt.NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._resolved)

    def add(self, resolved: Iterable[Resolved]) -> None:
        batch = [r for r in resolved if r.question.strip() and r.documents]
        if not batch:
            return
        vectors = np.asarray(self.embedder([r.question for r in batch]), dtype=np.float32)
        self._vectors = vectors if not self._resolved else np.vstack([self._vectors, vectors])
        self._resolved.extend(batch)

    def rank(self, question: str, exclude: str | None = None) -> list[str]:
        """Documents of the nearest past questions, best first; `exclude` leaves one question out."""
        if not self._resolved or not question.strip():
            return []
        query = np.asarray(self.embedder([question])[0], dtype=np.float32)
        similarity = self._vectors @ query
        scores: dict[str, float] = {}
        taken = 0
        for row in np.argsort(-similarity):
            resolved = self._resolved[int(row)]
            if resolved.question == exclude:
                continue
            for document in resolved.documents:
                scores[document] = scores.get(document, 0.0) + max(float(similarity[row]), 0.0)
            taken += 1
            if taken >= self.neighbours:
                break
        return sorted(scores, key=lambda d: scores[d], reverse=True)


def fuse_documents(rankings: Sequence[list[str]], weights: Sequence[float], k: int = 60) -> list[str]:
    """Weighted reciprocal rank fusion of document rankings, best first."""
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, document in enumerate(ranking, start=1):
            fused[document] = fused.get(document, 0.0) + weight / (k + rank)
    return sorted(fused, key=lambda d: fused[d], reverse=True)
