"""Query splitting: long multi-issue messages become sentence-sized pieces; short ones stay whole."""

from __future__ import annotations

from typing import Any

from knowledge.queries import sub_queries


def test_short_query_is_not_split() -> None:
    assert sub_queries("How do I close my savings account?") == []


def test_long_query_is_packed_into_whole_sentences_of_bounded_size() -> None:
    sentences = [f"Issue number {i} is about topic {i} and needs an answer soon." for i in range(12)]
    query = " ".join(sentences)
    pieces = sub_queries(query, max_chars=150)
    assert len(pieces) > 1
    assert all(len(p) <= 150 for p in pieces)
    assert " ".join(pieces) == query  # nothing dropped, order kept, no sentence cut in two


def test_pieces_are_capped() -> None:
    query = " ".join(f"Sentence {i} says something." for i in range(200))
    assert len(sub_queries(query, max_chars=40, limit=5)) == 5


def test_a_second_issue_late_in_a_long_message_is_found(kb: Any, tenant: str) -> None:
    """The late issue's article reaches the top 2 although the message is mostly about another topic."""
    from knowledge.ingest import ingest_bytes

    ingest_bytes(
        kb, tenant, "wire.md", b"# Wire transfers\n\nInternational wire transfers take 3 business days."
    )
    ingest_bytes(kb, tenant, "lost.md", b"# Lost cards\n\nFreeze a lost debit card at once in the app.")
    for i in range(6):
        ingest_bytes(kb, tenant, f"w{i}.md", f"# Wire fees {i}\n\nWire transfer fee table {i}.".encode())
    query = " ".join(["I sent an international wire transfer and it has not arrived yet."] * 8) + (
        " Also, I lost my debit card yesterday."
    )
    documents = [p.title for p in kb.search(tenant, query, k=2, mode="vector")]
    assert "Lost cards" in documents


class CountingEmbedder:
    """The store's real embedder, with every call and text it embeds recorded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[list[str]] = []

    def embed_query(self, texts: list[str]) -> Any:
        self.calls.append(list(texts))
        return self.inner.embed_query(texts)


def test_a_long_query_is_embedded_in_one_call_of_its_pieces(kb: Any, tenant: str) -> None:
    """One model call for all pieces (the whole query is not embedded apart), and one Chroma query."""
    import numpy as np

    from knowledge.ingest import ingest_bytes

    ingest_bytes(kb, tenant, "lost.md", b"# Lost cards\n\nFreeze a lost debit card at once in the app.")
    query = " ".join(["I sent an international wire transfer and it has not arrived yet."] * 8) + (
        " Also, I lost my debit card yesterday."
    )
    pieces = sub_queries(query)
    counter = CountingEmbedder(kb.embedder)
    collection = kb._collection(tenant)
    sent: list[Any] = []
    original_query = collection.query

    def counting_query(**kwargs: Any) -> Any:
        sent.append(kwargs["query_embeddings"])
        return original_query(**kwargs)

    kb.embedder, collection.query = counter, counting_query
    try:
        found = kb.search(tenant, query, k=2, mode="hybrid")
    finally:
        kb.embedder = counter.inner
        del collection.query
    assert counter.calls == [pieces]
    assert len(sent) == 1 and len(sent[0]) == len(pieces) + 1
    whole, rest = np.asarray(sent[0][0]), np.asarray(sent[0][1:])
    mean = rest.mean(axis=0)
    assert np.allclose(whole, mean / np.linalg.norm(mean), atol=1e-6)
    assert "Lost cards" in [p.title for p in found]


def test_top_many_ranks_each_query_as_top_does() -> None:
    from collections import Counter

    from knowledge.keyword import BM25Index, term_counts

    texts = {
        "a": "Refunds reach your card in 5-10 business days.",
        "b": "Exchange an item within 30 days; refunds for exchanges are not issued.",
        "c": "Track your parcel with the carrier's tracking number NB-TENT-2P.",
        "d": "Gift cards never expire and cannot be refunded.",
    }
    index = BM25Index({k: Counter(term_counts([v])) for k, v in texts.items()})
    queries = ["refund to my card", "tracking NB-TENT-2P parcel", "gift card refund", "the of and", ""]
    for min_matches in (1, 2):
        # Batched, each query ranks as it does alone: the others' terms never leak into its scores.
        alone = [index.top_many([q], 3, min_matches)[0] for q in queries]
        assert index.top_many(queries, 3, min_matches) == alone
        assert [index.top(q, 3, min_matches) for q in queries] == alone
    assert [c for c, _ in index.top_many(queries, 3)[0]][:2] == ["a", "d"]  # refund + card, then card
    assert index.top_many(queries, 3)[3] == [] and index.top_many(queries, 3)[4] == []
