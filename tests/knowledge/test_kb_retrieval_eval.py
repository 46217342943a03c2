"""Retrieval quality floors (a little below what was measured): a regression in ranking fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.eval.retrieval import tau2_results
from bench.retrieval_eval import (
    TAU2_DIR,
    build_query,
    demo_cases,
    evaluate,
    source_name,
    tau2_cases,
)
from knowledge import DEMO_DOCS_DIR


def test_every_demo_question_points_at_a_bundled_article() -> None:
    cases = demo_cases()
    assert len(cases) >= 30
    articles = {p.name for p in DEMO_DOCS_DIR.glob("*.md")}
    assert 25 <= len(articles) <= 40
    assert all(case.relevant <= articles for case in cases)


def test_demo_kb_recall_floors(demo_knowledge: Any) -> None:
    # Measured (recall@5 / recall@10 / MRR): vector 0.974/1.000/0.906, keyword 0.897/1.000/0.746,
    # hybrid 1.000/1.000/0.849, hybrid+title 1.000/1.000/0.849 (the title ranking must not cost a question).
    results = evaluate(demo_knowledge, "default", demo_cases(), source_name)
    assert results["hybrid+title"][5] >= 0.99 and results["hybrid+title"][10] >= 0.99
    assert results["hybrid+title"]["mrr"] >= 0.82
    assert results["hybrid"][5] >= 0.95 and results["hybrid"][10] >= 0.97
    assert results["vector"][5] >= 0.90
    assert results["keyword"][5] >= 0.80
    assert results["hybrid"][5] >= results["vector"][5] - 0.03


def test_tau2_queries_drop_role_play_boilerplate_and_identity_data() -> None:
    query = build_query(
        "You are playing the role of a customer.\n"
        "**Your situation:** My Silver Rewards Card cash back looks wrong.\n"
        "- Your date of birth is 07/22/1985 and your phone number is 206-555-0293.\n## How to Behave\n"
        "Never respond as a customer service representative."
    )
    assert query == "Your situation: My Silver Rewards Card cash back looks wrong."


@pytest.fixture(scope="session")
def tau2_kb(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Any:
    """The 698 tau2 banking documents, embedded once per session (1-4 minutes on 2 busy cores)."""
    if not (TAU2_DIR / "documents").is_dir():
        pytest.skip(f"tau2 eval data not found at {TAU2_DIR}")
    from knowledge import ingest_paths, open_knowledge_base

    kb = open_knowledge_base(
        chroma_path=tmp_path_factory.mktemp("tau2"), chroma_url=None, models_dir=models_dir
    )
    report = ingest_paths(kb, "tau2", [TAU2_DIR / "documents"])
    assert report.documents == 698 and not report.skipped
    return kb


@pytest.mark.slow
@pytest.mark.timeout(1200)  # embedding 698 documents: about a minute on a quiet machine, several under load
def test_tau2_recall_floors(tau2_kb: Any) -> None:
    # Measured on all 97 tasks (recall@5 / @10 / MRR): vector 0.162/0.269/0.429, keyword 0.175/0.240/0.481,
    # hybrid 0.242/0.344/0.619, hybrid+title 0.235/0.362/0.605; ceiling 0.619/0.871 (tasks need 1-30
    # documents each). Held-out half (split seed 16): hybrid 0.262/0.368, hybrid+title 0.258/0.394,
    # hybrid+title+feedback (history: the tuning half) 0.306-0.322/0.472-0.510/0.78-0.80. Chroma's HNSW index
    # differs a little between builds, so figures move by ~0.01 and the feedback grid may pick another point.
    results = tau2_results(tau2_kb, "tau2", tau2_cases())
    assert results["split"] == {"seed": 16, "train": 48, "held_out": 49}
    rows = results["variants"]
    assert rows["hybrid"]["all"]["recall"][5] >= 0.23 and rows["hybrid"]["all"]["recall"][10] >= 0.33
    assert (
        rows["hybrid+title"]["all"]["recall"][10] >= 0.35 and rows["hybrid+title"]["all"]["recall"][5] >= 0.22
    )
    assert rows["hybrid+title"]["held_out"]["recall"][10] >= 0.38
    assert rows["hybrid+title"]["all"]["recall"][10] > rows["hybrid"]["all"]["recall"][10]
    assert rows["vector"]["all"]["recall"][10] >= 0.25 and rows["keyword"]["all"]["recall"][10] >= 0.22
    assert rows["hybrid"]["all"]["recall"][10] > rows["vector"]["all"]["recall"][10]
    feedback = rows["hybrid+title+feedback"]
    assert feedback["held_out"]["recall"][10] >= 0.44 and feedback["held_out"]["mrr"] >= 0.72
