"""Shared fixtures: isolated settings per test, a seeded demo store, API clients with real keys."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

# Tests never talk to a real model or read a developer's .env: scrub the environment before anything reads it.
for _name in list(os.environ):
    if _name.startswith("DESKPILOT_") or _name in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}:
        del os.environ[_name]
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

pytest_plugins = ["tests.support.fixtures"]

REPO = Path(__file__).resolve().parents[1]
EVAL_DATA = REPO.parent / "shared" / "eval-data"
TODAY = date.today()  # the tools judge refund windows against the real clock


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    from api.settings import Settings

    return Settings(_env_file=None, home=tmp_path / "home", force_offline=True)  # type: ignore[call-arg]


@pytest.fixture
def engine(settings: Any) -> Iterator[Any]:
    from api.db import create_schema, make_engine

    settings.ensure_home()
    engine = make_engine(settings.effective_database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded_engine(engine: Any) -> Any:
    from tools.demo_data import seed_demo

    seed_demo(engine, tenant="default", today=TODAY)
    seed_demo(engine, tenant="acme", today=TODAY)
    return engine


def make_client(settings: Any, engine: Any, **overrides: Any) -> Any:
    from fastapi.testclient import TestClient

    from api.main import create_app

    overrides.setdefault("redactor", None)
    overrides.setdefault("knowledge", None)
    return TestClient(create_app(settings, engine=engine, **overrides))


def bearer(engine: Any, tenant: str = "default", scopes: tuple[str, ...] = ("agent",)) -> dict[str, str]:
    from api.auth import create_key

    _, secret = create_key(engine, tenant=tenant, scopes=list(scopes))
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="session")
def analyzer() -> Any:
    """Presidio with our recognizers; ~2 s to build, so one per test session."""
    from agent.pii import build_analyzer

    return build_analyzer()


@pytest.fixture
def redactor(analyzer: Any, engine: Any) -> Any:
    from cryptography.fernet import Fernet

    from agent.pii import PiiVault, Redactor

    return Redactor(analyzer, PiiVault(engine, Fernet.generate_key()))


@pytest.fixture(scope="session")
def demo_knowledge(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real embedded Chroma with the bundled help centre, for tenant 'default' (treat as read-only)."""
    import sys

    from knowledge import DEMO_DOCS_DIR, open_knowledge_base
    from knowledge.ingest import ingest_paths

    kb = open_knowledge_base(
        chroma_path=tmp_path_factory.mktemp("chroma"),
        chroma_url=None,
        models_dir=Path(sys.prefix) / "share" / "deskpilot" / "models",
    )
    ingest_paths(kb, "default", [DEMO_DOCS_DIR])
    return kb


def online(settings: Any, stub: Any, **overrides: Any) -> Any:
    """Settings that send the model path to the local OpenAI-compatible test server, fast-failing."""
    from pydantic import SecretStr

    return settings.model_copy(
        update={
            "force_offline": False,
            "openai_api_key": SecretStr("sk-test"),
            "llm_base_url": stub.base_url,
            "llm_max_retries": 0,
            "llm_timeout_s": 5.0,
            "fallback_models": [],
            **overrides,
        }
    )
