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
