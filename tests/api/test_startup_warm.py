"""Start-up: ready means warm (the first turn's one-off loads are done), and serve's memory upkeep works."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_client

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(sys.prefix) / "share" / "deskpilot" / "models"


def run_python(code: str, **env: str) -> str:
    import os

    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return out.stdout.strip()


@pytest.fixture
def fresh_knowledge(tmp_path: Path) -> Any:
    """A knowledge base with one document for 'default', reopened so that nothing of it is loaded yet."""
    from knowledge import open_knowledge_base
    from knowledge.ingest import ingest_bytes

    path = tmp_path / "chroma"
    kb = open_knowledge_base(chroma_path=path, chroma_url=None, models_dir=MODELS)
    ingest_bytes(
        kb, "default", "refunds.md", b"# Refunds\n\nRefunds reach your card in 5-10 business days.\n"
    )
    return open_knowledge_base(chroma_path=path, chroma_url=None, models_dir=MODELS)


def test_the_app_is_ready_only_once_redaction_and_knowledge_are_warm(
    settings: Any, seeded_engine: Any, redactor: Any, fresh_knowledge: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysed: list[str] = []
    original = redactor.analyzer.analyze
    monkeypatch.setattr(
        redactor.analyzer, "analyze", lambda text, **kw: analysed.append(text) or original(text=text, **kw)
    )
    assert "default" not in fresh_knowledge._corpora
    with make_client(settings, seeded_engine, redactor=redactor, knowledge=fresh_knowledge) as client:
        assert "default" in fresh_knowledge._corpora  # corpus and BM25 loaded before the first request
        assert len(analysed) == 1  # spaCy and the recognizers have run once
        assert client.get("/readyz").status_code == 200


def test_warm_up_tenants_zero_leaves_knowledge_to_the_first_search(
    settings: Any, seeded_engine: Any, fresh_knowledge: Any
) -> None:
    with make_client(
        settings.model_copy(update={"warm_up_tenants": 0}), seeded_engine, knowledge=fresh_knowledge
    ):
        assert "default" not in fresh_knowledge._corpora


def test_a_knowledge_base_that_fails_to_warm_does_not_stop_the_start(
    settings: Any, seeded_engine: Any, fresh_knowledge: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise ConnectionError("chroma is down")

    monkeypatch.setattr(fresh_knowledge.client, "list_collections", down)
    with make_client(settings, seeded_engine, knowledge=fresh_knowledge) as client:
        assert client.get("/healthz").status_code == 200


def test_malloc_trim_returns_the_freed_heap_to_the_system() -> None:
    out = run_python(
        """
        from api.memory import release_free_memory, rss_mb
        blocks = [bytearray(4000) for _ in range(40_000)]  # ~160 MB on the heap (below mmap's threshold)
        last = blocks[-1]  # keeps the top of the heap in use, so free() alone cannot shrink it
        del blocks
        before = rss_mb()
        release_free_memory()
        print(before - rss_mb())
        """,
        MALLOC_MMAP_THRESHOLD_="131072",
    )
    assert float(out) > 100  # MB given back


def test_tune_malloc_leaves_what_the_operator_set_alone() -> None:
    out = run_python("from api.memory import tune_malloc; print(sorted(tune_malloc()))", MALLOC_ARENA_MAX="4")
    assert out == "['MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']"


def test_settle_freezes_start_up_objects_and_restores_the_collector_in_serve_only() -> None:
    out = run_python(
        """
        import gc
        from api import memory
        memory.settle()
        before = gc.get_freeze_count()
        default = gc.get_threshold()
        memory.serve_tuning()
        starting = gc.get_threshold()[0]
        memory.settle()
        print(before, gc.get_freeze_count() > 1000, starting, gc.get_threshold() == default)
        """
    )
    assert out == "0 True 50000 True"
