"""Ranking details: the title ranking in hybrid fusion, BM25's term threshold, citation feedback."""

from __future__ import annotations

from typing import Any

from knowledge.feedback import CitationFeedback, Resolved, fuse_documents
from knowledge.ingest import ingest_bytes
from knowledge.keyword import BM25Index, reciprocal_rank_fusion, term_counts

# Many passages mention the savings account in passing; one document is about closing it.
PASSING = [
    f"# Statement line {i}\n\nA savings account statement lists closing fees and account fees, line {i}."
    for i in range(12)
]
CLOSING = "# Closing a savings account\n\nTell us which one; we move the money out first, then shut it."


def _ingest(kb: Any, tenant: str) -> None:
    for i, text in enumerate(PASSING):
        ingest_bytes(kb, tenant, f"statement-{i}.md", text.encode())
    ingest_bytes(kb, tenant, "closing.md", CLOSING.encode())


def _rank(kb: Any, tenant: str, query: str) -> int:
    titles = [p.title for p in kb.search(tenant, query, k=20, mode="hybrid")]
    return titles.index("Closing a savings account") + 1


def test_a_title_naming_the_question_lifts_its_document(kb: Any, tenant: str) -> None:
    _ingest(kb, tenant)
    query = "closing fees on my savings account statement"
    try:
        kb.title_weight = 0.0
        without = _rank(kb, tenant, query)
        kb.title_weight = 1.0
        with_titles = _rank(kb, tenant, query)
    finally:
        kb.title_weight = 1.0
    assert with_titles < without


def test_bm25_min_matches_drops_titles_that_share_one_word() -> None:
    index = BM25Index(
        {"a": term_counts(["Cancelling an order"]), "b": term_counts(["Double charges on an order"])}
    )
    assert {d for d, _ in index.top("charges on my order", 5)} == {"a", "b"}
    assert [d for d, _ in index.top("charges on my order", 5, min_matches=2)] == ["b"]


def test_weighted_fusion_counts_each_ranking_by_its_weight() -> None:
    fused = reciprocal_rank_fusion([["x", "y"], ["y", "x"]], weights=[1.0, 3.0])
    assert [item for item, _ in fused] == ["y", "x"]
    assert fuse_documents([["x", "y"], ["y", "x"]], [3.0, 1.0]) == ["x", "y"]


def test_feedback_ranks_the_documents_of_similar_past_questions(kb: Any) -> None:
    feedback = CitationFeedback(kb.embedder, neighbours=1)
    feedback.add(
        [
            Resolved("I want to close my checking account", frozenset({"closing.md", "accounts-lookup.md"})),
            Resolved("My parcel never arrived", frozenset({"shipping.md"})),
        ]
    )
    assert len(feedback) == 2
    assert set(feedback.rank("Please close my checking account today")) == {
        "closing.md",
        "accounts-lookup.md",
    }
    assert feedback.rank(
        "Please close my checking account today", exclude="I want to close my checking account"
    ) == ["shipping.md"]
    assert feedback.rank("   ") == []
