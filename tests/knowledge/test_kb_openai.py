"""The optional OpenAI embedding provider, against the local OpenAI-compatible test server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge import open_knowledge_base
from knowledge.ingest import ingest_bytes
from knowledge.store import collection_name


def test_openai_provider_embeds_through_the_api_and_keeps_its_own_collection(
    openai_stub: Any, tmp_path: Path, models_dir: Path
) -> None:
    kb = open_knowledge_base(
        chroma_path=tmp_path / "chroma",
        chroma_url=None,
        models_dir=models_dir,
        provider="openai",
        openai_api_key="sk-test",
        openai_base_url=openai_stub.base_url,
    )
    ingest_bytes(kb, "acme", "hours.md", b"# Hours\n\n## Phone\n\nMonday to Friday, 8 am to 6 pm.")
    embedding_calls = [r for r in openai_stub.requests if r.path.endswith("/embeddings")]
    assert embedding_calls and embedding_calls[0].json["model"] == "text-embedding-3-small"
    assert embedding_calls[0].json["input"] == ["Hours > Phone\nMonday to Friday, 8 am to 6 pm."]

    # The test server embeds equal texts equally, so the chunk's own text is its nearest neighbour.
    [passage] = kb.search("acme", "Hours > Phone\nMonday to Friday, 8 am to 6 pm.", k=1, mode="vector")
    assert passage.section == "Phone" and passage.score > 0.999
    assert collection_name("acme", "openai") != collection_name("acme", "local")
    assert kb.client.get_collection(collection_name("acme", "openai")).count() == 1
