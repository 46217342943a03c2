"""The store: tenant isolation, hybrid retrieval of exact codes, listing and deleting documents."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from knowledge import open_knowledge_base
from knowledge.ingest import ingest_bytes
from knowledge.store import KnowledgeBase, collection_name

REASONS = [
    "card declined by the bank",
    "card expired",
    "billing address mismatch",
    "wrong security code",
    "authentication timed out",
    "gift card balance too low",
    "gift card PIN invalid",
    "service unavailable",
]


def _rank(kb: Any, tenant: str, query: str, title: str, mode: str) -> int | None:
    titles = [p.title for p in kb.search(tenant, query, k=20, mode=mode)]
    return titles.index(title) + 1 if title in titles else None


def test_a_tenant_never_sees_another_tenants_chunks(kb: Any, tenant: str) -> None:
    ingest_bytes(
        kb, f"{tenant}-a", "secret.md", b"# Acme secret\n\nAcme's wholesale discount code is ACME-7781."
    )
    ingest_bytes(kb, f"{tenant}-b", "public.md", b"# Beta notes\n\nBeta ships tents.")
    for mode in ("hybrid", "vector", "keyword"):
        found = kb.search(f"{tenant}-b", "Acme wholesale discount code ACME-7781", k=10, mode=mode)
        assert all("ACME-7781" not in p.text for p in found)
    assert [d.title for d in kb.list_documents(f"{tenant}-b")] == ["Beta notes"]
    assert kb.search(f"{tenant}-c", "anything") == [] and kb.count(f"{tenant}-c") == 0
    [doc] = kb.list_documents(f"{tenant}-a")
    assert not kb.delete_document(f"{tenant}-b", doc.document_id)  # ids of another tenant do nothing
    assert kb.count(f"{tenant}-a") == 1
    assert collection_name(f"{tenant}-a", "local") != collection_name(f"{tenant}-b", "local")


def test_hybrid_finds_exact_error_codes_that_vector_search_ranks_lower(kb: Any, tenant: str) -> None:
    for i, reason in enumerate(REASONS):
        code = f"PAY-{1001 + i}"
        body = f"# Checkout error {code}\n\nThe payment failed: {reason}. Try again or pay another way."
        ingest_bytes(kb, tenant, f"{code}.md", body.encode())
    vector_misses = 0
    for i in range(len(REASONS)):
        code = f"PAY-{1001 + i}"
        title = f"Checkout error {code}"
        assert _rank(kb, tenant, code, title, "keyword") == 1
        assert _rank(kb, tenant, code, title, "hybrid") == 1
        vector_misses += _rank(kb, tenant, code, title, "vector") != 1
    assert vector_misses >= 1  # otherwise this corpus no longer shows what hybrid adds


def test_search_returns_citation_data_and_scores_in_order(demo_knowledge: Any) -> None:
    passages = demo_knowledge.search("default", "Can I return the clearance fleece NB-CLR-FLEECE?", k=5)
    assert len(passages) == 5
    assert "NB-CLR-FLEECE" in passages[0].text
    assert "final-sale-items.md" in [Path(p.source).name for p in passages[:3]]
    assert passages[0].chunk_id.startswith(passages[0].document_id + ":")
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    vector = demo_knowledge.search(
        "default", "Can I return the clearance fleece NB-CLR-FLEECE?", k=5, mode="vector"
    )
    assert all(-1.0 <= p.score <= 1.0 for p in vector)


def test_list_count_and_delete_documents(kb: Any, tenant: str) -> None:
    ingest_bytes(kb, tenant, "a.md", b"# Alpha\n\n## One\n\nfirst\n\n## Two\n\nsecond")
    ingest_bytes(kb, tenant, "b.md", b"# Beta\n\nonly")
    docs = {d.title: d for d in kb.list_documents(tenant)}
    assert {t: d.chunks for t, d in docs.items()} == {"Alpha": 2, "Beta": 1}
    assert kb.count(tenant) == 3
    assert kb.delete_document(tenant, docs["Alpha"].document_id)
    assert not kb.delete_document(tenant, docs["Alpha"].document_id)
    assert [d.title for d in kb.list_documents(tenant)] == ["Beta"]
    assert all(p.title == "Beta" for p in kb.search(tenant, "first second alpha", k=5))
    assert kb.delete_document(tenant, docs["Beta"].document_id)
    assert kb.count(tenant) == 0
    assert all(kb.search(tenant, "only", mode=mode) == [] for mode in ("hybrid", "vector", "keyword"))


def test_another_process_writes_are_seen_through_the_revision(kb: Any, tenant: str) -> None:
    """A second KnowledgeBase on one store (a CLI ingest beside the server) reloads its keyword index."""
    reader = KnowledgeBase(kb.client, kb.embedder, refresh_interval_s=0)
    ingest_bytes(kb, tenant, "one.md", b"# One\n\nThe code is ZX-100.")
    assert [p.title for p in reader.search(tenant, "ZX-100", mode="keyword")] == ["One"]
    ingest_bytes(kb, tenant, "two.md", b"# Two\n\nThe code is ZX-200.")
    assert [p.title for p in reader.search(tenant, "ZX-200", mode="keyword")] == ["Two"]


def test_reopening_the_store_keeps_documents(tmp_path: Path, models_dir: Path) -> None:
    first = open_knowledge_base(chroma_path=tmp_path / "c", chroma_url=None, models_dir=models_dir)
    ingest_bytes(first, "acme", "faq.md", b"# FAQ\n\nWe ship NB-TENT-4P by ground.")
    second = open_knowledge_base(chroma_path=tmp_path / "c", chroma_url=None, models_dir=models_dir)
    assert [p.title for p in second.search("acme", "NB-TENT-4P", k=1)] == ["FAQ"]
    assert (
        ingest_bytes(second, "acme", "faq.md", b"# FAQ\n\nWe ship NB-TENT-4P by ground.").chunks_unchanged
        == 1
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_chroma_server_works_like_the_embedded_store(tmp_path: Path, models_dir: Path) -> None:
    """DESKPILOT_CHROMA_URL: the same behaviour through `chroma run` and chromadb.HttpClient."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = _free_port()
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                kb = open_knowledge_base(
                    chroma_path=tmp_path / "unused",
                    chroma_url=f"http://127.0.0.1:{port}",
                    models_dir=models_dir,
                )
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        report = ingest_bytes(
            kb, "acme", "codes.md", b"# Codes\n\n## Declines\n\nPAY-1003 means a billing mismatch."
        )
        assert report.chunks_added == 1
        assert (
            ingest_bytes(
                kb, "acme", "codes.md", b"# Codes\n\n## Declines\n\nPAY-1003 means a billing mismatch."
            ).chunks_unchanged
            == 1
        )
        [passage] = kb.search("acme", "PAY-1003", k=1)
        assert (passage.title, passage.section) == ("Codes", "Declines")
        assert kb.search("other", "PAY-1003") == []
        assert not (tmp_path / "unused").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
