"""The knowledge base: one Chroma collection per tenant, hybrid (vector + BM25) search with citation data.

Tenant isolation is structural: every tenant has its own collection (name derived from a hash of the
tenant), so no query can reach another tenant's chunks, whatever filter it carries. All methods are
synchronous and thread-safe; async callers run them in a worker thread.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.errors import NotFoundError

from knowledge.corpus import TenantCorpus
from knowledge.keyword import identifiers, reciprocal_rank_fusion
from knowledge.models import ChunkRecord, DocumentInfo, Passage
from knowledge.queries import sub_queries

SearchMode = Literal["hybrid", "vector", "keyword"]
EMBED_BATCH = 64
TITLE_MIN_MATCHES = 2


def collection_name(tenant: str, provider: str) -> str:
    """Readable and Chroma-valid ([a-z0-9-], 3-512 chars), unique per (provider, tenant) via a digest."""
    slug = re.sub(r"[^a-z0-9]+", "-", tenant.lower()).strip("-")[:40] or "tenant"
    digest = hashlib.sha256(f"{provider}\x1f{tenant}".encode()).hexdigest()[:12]
    return f"dp-{provider}-{slug}-{digest}"


class KnowledgeBase:
    """Built once at start-up with a Chroma client and an embedding function, then shared."""

    def __init__(
        self,
        client: ClientAPI,
        embedder: EmbeddingFunction[Documents],
        provider: str = "local",
        refresh_interval_s: float = 2.0,
        title_weight: float = 1.0,
    ) -> None:
        self.client = client
        self.embedder = embedder
        # Chroma's signatures want a function over any Embeddable; ours embeds documents only.
        self._chroma_ef: Any = embedder
        self.provider = provider
        self.refresh_interval_s = refresh_interval_s
        # Weight of the title ranking in hybrid fusion (0: off). Measured on tau2 banking, see bench/.
        self.title_weight = title_weight
        self._collections: dict[str, Collection] = {}
        self._corpora: dict[str, TenantCorpus] = {}
        self._lock = threading.RLock()

    # --- collections and the in-memory corpus ----------------------------------------------------
    def _collection(self, tenant: str, create: bool = False) -> Collection | None:
        with self._lock:
            cached = self._collections.get(tenant)
            if cached is not None:
                return cached
            name = collection_name(tenant, self.provider)
            try:
                # The embedding function is always passed: without it Chroma would fall back to its default,
                # which downloads a model.
                collection = self.client.get_collection(name, embedding_function=self._chroma_ef)
            except (NotFoundError, ValueError):
                if not create:
                    return None
                collection = self.client.create_collection(
                    name,
                    embedding_function=self._chroma_ef,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"tenant": tenant, "revision": uuid.uuid4().hex},
                )
            if (collection.metadata or {}).get("tenant") != tenant:
                raise RuntimeError(f"collection {name} belongs to another tenant")
            self._collections[tenant] = collection
            return collection

    def _corpus(self, tenant: str, collection: Collection) -> TenantCorpus:
        """The tenant's corpus, reloaded when another process bumped the collection's revision."""
        now = time.monotonic()
        corpus = self._corpora.get(tenant)
        if corpus is not None and now - corpus.checked_at < self.refresh_interval_s:
            return corpus
        with self._lock:
            corpus = self._corpora.get(tenant)
            fresh = self.client.get_collection(collection.name, embedding_function=self._chroma_ef)
            revision = str((fresh.metadata or {}).get("revision", ""))
            if corpus is None or corpus.revision != revision:
                corpus = TenantCorpus.load(fresh, revision, now)
                self._corpora[tenant] = corpus
            corpus.checked_at = now
            return corpus

    # --- reading ---------------------------------------------------------------------------------
    def count(self, tenant: str) -> int:
        collection = self._collection(tenant)
        return collection.count() if collection is not None else 0

    def search(self, tenant: str, query: str, k: int = 5, mode: SearchMode = "hybrid") -> list[Passage]:
        """Best `k` chunks of `tenant` for `query`; scores are cosine similarity, BM25, or fused RRF.

        A long query is also searched piece by piece (`sub_queries`): in vector mode a chunk keeps its best
        cosine over the pieces, in hybrid mode every piece's rankings join the fusion. Keyword mode ranks the
        whole query only (BM25 has no length limit, and its scores across queries do not compare).
        """
        collection = self._collection(tenant)
        if collection is None or not query.strip() or k <= 0:
            return []
        pool = max(4 * k, 40)  # candidates per ranking before fusion
        stored: dict[str, tuple[str, dict[str, Any]]] = {}
        queries = [query, *sub_queries(query)] if mode != "keyword" else [query]
        corpus = self._corpus(tenant, collection) if mode != "vector" else None
        size = len(corpus.chunks) if corpus is not None else collection.count()
        vector_hits = self._vector_hits(collection, queries, pool, stored, size) if mode != "keyword" else []
        if mode == "vector":
            best: dict[str, float] = {}
            for hits in vector_hits:
                for chunk_id, score in hits:
                    best[chunk_id] = max(score, best.get(chunk_id, -1.0))
            ranked = sorted(best.items(), key=lambda pair: pair[1], reverse=True)
        else:
            assert corpus is not None
            bm25 = corpus.bm25()
            keyword_hits = bm25.top_many(queries, pool)  # one pass over the postings for all pieces
            for hits in keyword_hits:
                for chunk_id, _ in hits:
                    chunk = corpus.chunks.get(chunk_id)
                    if chunk is not None:
                        stored.setdefault(chunk_id, (chunk.text, chunk.meta))
            if mode == "keyword":
                ranked = keyword_hits[0]
            else:
                rankings = [[c for c, _ in hits] for hits in (*vector_hits, *keyword_hits)]
                # Chunks holding the exact SKU / order number / error code of the query form a further
                # ranking, so an exact code outranks passages that are merely about the same topic.
                exact: set[str] = set().union(*(bm25.containing(t) for t in identifiers(query)))
                if exact:
                    rankings.append([c for c, _ in keyword_hits[0] if c in exact])
                weights = [1.0] * len(rankings)
                if self.title_weight > 0:
                    titled = self._title_rankings(
                        corpus, queries, pool, reciprocal_rank_fusion(rankings), stored
                    )
                    rankings.extend(titled)
                    weights.extend([self.title_weight] * len(titled))
                ranked = reciprocal_rank_fusion(rankings, weights=weights)
        return [
            Passage.from_stored(chunk_id, *stored[chunk_id], score=score)
            for chunk_id, score in ranked[:k]
            if chunk_id in stored
        ]

    @staticmethod
    def _title_rankings(
        corpus: TenantCorpus,
        queries: list[str],
        n: int,
        fused: list[tuple[str, float]],
        stored: dict[str, tuple[str, dict[str, Any]]],
    ) -> list[list[str]]:
        """One ranking of documents by their title per query; each document stands as its best chunk so far
        (its first chunk when no other ranking found it), so the boost lands on the passage that matches."""
        best: dict[str, str] = {}
        for chunk_id, _ in fused:
            document_id = str(stored[chunk_id][1].get("document_id", "")) if chunk_id in stored else ""
            best.setdefault(document_id, chunk_id)
        titles = corpus.titles()
        rankings = []
        # One shared word ("order", "card") says little about a title: two or more must match.
        for hits in titles.top_many(queries, n, min_matches=TITLE_MIN_MATCHES):
            ranking = []
            for first_chunk, _ in hits:
                chunk = corpus.chunks.get(first_chunk)
                if chunk is None:
                    continue
                chunk_id = best.get(str(chunk.meta.get("document_id", "")), first_chunk)
                if chunk_id not in stored:
                    stored[chunk_id] = (chunk.text, chunk.meta)
                ranking.append(chunk_id)
            rankings.append(ranking)
        return rankings

    def _vector_hits(
        self,
        collection: Collection,
        queries: list[str],
        n: int,
        stored: dict[str, tuple[str, dict[str, Any]]],
        size: int,
    ) -> list[list[tuple[str, float]]]:
        """Nearest chunks by cosine similarity, one list per query (one embedding call, one Chroma query);
        fills `stored` with their text and metadata."""
        if size == 0:
            return [[] for _ in queries]
        if len(queries) == 1:
            embeddings = list(self.embedder.embed_query(queries))
        else:
            # A long query is not embedded whole: its vector is the normalised mean of its pieces', which
            # are embedded in one batch of similar lengths. That halves the model's work (the whole query
            # was as many tokens as all its pieces, in a batch of its own) and ranked as well on tau2
            # banking (recall@10 0.355 vs 0.354, MRR 0.636 vs 0.621; bench/retrieval_eval.py).
            pieces = np.asarray(self.embedder.embed_query(queries[1:]), dtype=np.float32)
            whole = pieces.mean(axis=0)
            embeddings = [whole / max(float(np.linalg.norm(whole)), 1e-12), *pieces]
        result = collection.query(
            query_embeddings=embeddings,
            n_results=min(n, size),
            include=["documents", "metadatas", "distances"],
        )
        docs, metas, dists = (
            result["documents"] or [[] for _ in queries],
            result["metadatas"] or [[] for _ in queries],
            result["distances"] or [[] for _ in queries],
        )
        rankings = []
        for ids, texts, metadatas, distances in zip(result["ids"], docs, metas, dists, strict=True):
            hits = []
            for chunk_id, text, meta, distance in zip(ids, texts, metadatas, distances, strict=True):
                hits.append((chunk_id, 1.0 - float(distance)))
                stored[chunk_id] = (text or "", dict(meta or {}))
            rankings.append(hits)
        return rankings

    def stored_chunks(self, tenant: str) -> dict[str, dict[str, Any]]:
        """Chunk id -> metadata of everything the tenant has (used by ingestion to diff)."""
        collection = self._collection(tenant)
        if collection is None:
            return {}
        corpus = self._corpus(tenant, collection)
        with corpus.lock:
            return {cid: dict(chunk.meta) for cid, chunk in corpus.chunks.items()}

    def list_documents(self, tenant: str) -> list[DocumentInfo]:
        documents: dict[str, DocumentInfo] = {}
        for meta in self.stored_chunks(tenant).values():
            doc_id = str(meta.get("document_id", ""))
            info = documents.get(doc_id)
            ingested = _parse_time(meta.get("ingested_at"))
            if info is None:
                documents[doc_id] = DocumentInfo(
                    document_id=doc_id,
                    title=str(meta.get("title", "")),
                    source=str(meta.get("source", "")),
                    chunks=1,
                    ingested_at=ingested,
                    external_id=str(meta.get("external_id") or "") or None,
                )
            else:
                info.chunks += 1
                if ingested and (info.ingested_at is None or ingested > info.ingested_at):
                    info.ingested_at = ingested
        return sorted(documents.values(), key=lambda d: (d.title.lower(), d.document_id))

    # --- writing ---------------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [np.asarray(v, dtype=np.float32) for v in self.embedder(list(texts))]

    def write(
        self,
        tenant: str,
        upserts: Sequence[ChunkRecord],
        delete_ids: Sequence[str] = (),
        embeddings: Sequence[Sequence[float]] | np.ndarray | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """Embed (unless `embeddings` are given) and upsert chunks, delete others, then bump the revision."""
        collection = self._collection(tenant, create=True)
        assert collection is not None
        corpus = self._corpus(tenant, collection)
        batch = min(EMBED_BATCH if embeddings is None else 4096, self.client.get_max_batch_size())
        if embeddings is None:
            # Similar lengths per batch keep padding, and so embedding time, low.
            upserts = sorted(upserts, key=lambda r: len(r.embed_text))
        for start in range(0, len(delete_ids), batch):
            ids = list(delete_ids[start : start + batch])
            collection.delete(ids=ids)
            for chunk_id in ids:
                corpus.remove(chunk_id)
        for start in range(0, len(upserts), batch):
            records = upserts[start : start + batch]
            # Embedding is the slow part and holds no lock: searches go on meanwhile.
            if embeddings is None:
                vectors: Any = self.embed([r.embed_text for r in records])
            else:
                vectors = np.asarray(embeddings[start : start + batch], dtype=np.float32)
            metas = [r.metadata() for r in records]
            collection.upsert(
                ids=[r.chunk_id for r in records],
                embeddings=vectors,
                documents=[r.text for r in records],
                metadatas=metas,  # type: ignore[arg-type]
            )
            for record, meta in zip(records, metas, strict=True):
                corpus.put(record.chunk_id, record.text, dict(meta))
            if on_progress is not None:
                on_progress(len(records))
        if upserts or delete_ids:
            # Other processes sharing this Chroma reload their keyword index when the revision moves.
            seen = self.client.get_collection(collection.name, embedding_function=self._chroma_ef).metadata
            stale = str((seen or {}).get("revision", "")) != corpus.revision  # another process wrote too
            corpus.revision = uuid.uuid4().hex
            collection.modify(metadata={"tenant": tenant, "revision": corpus.revision})
            if stale:
                with self._lock:
                    self._corpora.pop(tenant, None)  # our copy lacks their chunks: the next search reloads

    def delete_document(self, tenant: str, document_id: str) -> bool:
        collection = self._collection(tenant)
        if collection is None:
            return False
        chunk_ids = self._corpus(tenant, collection).chunk_ids_of(document_id)
        if chunk_ids:
            self.write(tenant, [], chunk_ids)
        return bool(chunk_ids)


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
