"""Knowledge-base fixtures: the embedder files, one shared Chroma store, a tenant per test, tiny documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def built_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh build from the packaged weights (~1 s), so the builder itself is under test."""
    from knowledge.build_embedder import build

    dest = tmp_path_factory.mktemp("models")
    build(dest)
    return dest


@pytest.fixture(scope="session")
def models_dir(built_models_dir: Path) -> Path:
    """The files `make install` built, or the fresh build when they are absent."""
    from knowledge.build_embedder import default_models_dir, is_built

    installed = default_models_dir()
    return installed if is_built(installed) else built_models_dir


@pytest.fixture(scope="session")
def kb(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Any:
    """One embedded Chroma for the knowledge tests; each test writes to its own tenant."""
    from knowledge import open_knowledge_base

    return open_knowledge_base(
        chroma_path=tmp_path_factory.mktemp("kb-chroma"), chroma_url=None, models_dir=models_dir
    )


@pytest.fixture
def tenant(request: pytest.FixtureRequest) -> str:
    return "t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:60]
