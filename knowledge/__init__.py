"""Deskpilot's knowledge base: offline embeddings, per-tenant Chroma storage, hybrid retrieval, citations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from knowledge.store import KnowledgeBase

DEMO_DOCS_DIR: Path = Path(__file__).resolve().parent / "docs"

# Importing chromadb takes over a second: the heavy names load on first use, not with the package.
_LAZY = {
    "KnowledgeBase": "knowledge.store",
    "Passage": "knowledge.models",
    "DocumentInfo": "knowledge.models",
    "IngestReport": "knowledge.models",
    "ingest_paths": "knowledge.ingest",
    "ingest_bytes": "knowledge.ingest",
    "DocumentError": "knowledge.loaders",
    "UnsupportedDocument": "knowledge.loaders",
    "UnreadableDocument": "knowledge.loaders",
    "detect_injection": "knowledge.injection",
    "LocalEmbedder": "knowledge.embeddings",
    "OpenAIEmbedder": "knowledge.embeddings",
    "EmbedderNotBuilt": "knowledge.embeddings",
}

__all__ = ["DEMO_DOCS_DIR", "open_knowledge_base", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def open_knowledge_base(
    *,
    chroma_path: Path,
    chroma_url: str | None,
    models_dir: Path,
    provider: Literal["local", "openai"] | str = "local",
    openai_api_key: str | None = None,
    openai_base_url: str | None = None,
) -> KnowledgeBase:
    """Open Chroma (a `chroma run` server when `chroma_url` is set, else embedded) with its embedder.

    The local embedder is loaded here, once: it fails fast with "run `make install`" if its files are missing.
    """
    from urllib.parse import urlparse

    import chromadb
    from chromadb.config import Settings

    from knowledge.embeddings import LocalEmbedder, OpenAIEmbedder
    from knowledge.store import KnowledgeBase

    if provider == "local":
        embedder: Any = LocalEmbedder(models_dir)
        embedder.warm_up()
    elif provider == "openai":
        embedder = OpenAIEmbedder(api_key=openai_api_key, base_url=openai_base_url)
    else:
        raise ValueError(f"unknown embedding provider {provider!r}: use 'local' or 'openai'")
    settings = Settings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url if "//" in chroma_url else f"http://{chroma_url}")
        ssl = url.scheme == "https"
        client: Any = chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if ssl else 8000),
            ssl=ssl,
            settings=settings,
        )
    else:
        Path(chroma_path).mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(chroma_path), settings=settings)
    # A server is shared by many processes: every search checks the collection's revision (one small
    # request), so a document another process ingested is found by the very next query.
    return KnowledgeBase(client, embedder, provider=provider, refresh_interval_s=0.0 if chroma_url else 2.0)
