"""Two processes' knowledge bases on one `chroma run` server: an ingest through one is found by the next
query on the other, keyword index included, and a delete likewise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from knowledge import ingest_bytes, open_knowledge_base
from tests.support.processes import ChromaServer


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    if not ChromaServer.available():
        pytest.skip("the chroma CLI is not installed in this environment")
    server = ChromaServer(tmp_path / "server").start()
    try:
        yield server
    finally:
        server.stop()


def test_an_ingest_on_one_runtime_is_found_by_the_next_query_on_another(
    chroma: ChromaServer, models_dir: Path, tmp_path: Path
) -> None:
    def open_kb() -> Any:
        return open_knowledge_base(
            chroma_path=tmp_path / "unused", chroma_url=chroma.url, models_dir=models_dir
        )

    a, b = open_kb(), open_kb()
    ingest_bytes(a, "acme", "codes.md", b"# Codes\n\n## Declines\n\nPAY-1003 means a billing mismatch.")
    assert [p.title for p in b.search("acme", "PAY-1003", k=3, mode="keyword")] == ["Codes"]
    # B's keyword index is now loaded; a second document through A must reach it at once, no waiting.
    ingest_bytes(a, "acme", "tents.md", b"# Tents\n\n## Poles\n\nA bent TENT-POLE-77 is replaced for free.")
    assert [p.title for p in b.search("acme", "TENT-POLE-77", k=3, mode="keyword")] == ["Tents"]
    assert [p.title for p in b.search("acme", "TENT-POLE-77", k=1)] == ["Tents"]
    # Both write: each one's copy is reloaded with the other's chunks.
    ingest_bytes(b, "acme", "boots.md", b"# Boots\n\n## Soles\n\nBOOT-SOLE-9 is glued, not stitched.")
    ingest_bytes(a, "acme", "stoves.md", b"# Stoves\n\n## Fuel\n\nSTOVE-GAS-4 takes butane only.")
    for kb in (a, b):
        assert {d.title for d in kb.list_documents("acme")} == {"Codes", "Tents", "Boots", "Stoves"}
        assert [p.title for p in kb.search("acme", "BOOT-SOLE-9", k=1, mode="keyword")] == ["Boots"]
        assert [p.title for p in kb.search("acme", "STOVE-GAS-4", k=1, mode="keyword")] == ["Stoves"]
    [tents] = [d for d in a.list_documents("acme") if d.title == "Tents"]
    assert b.delete_document("acme", tents.document_id)
    assert a.search("acme", "TENT-POLE-77", k=3, mode="keyword") == []
