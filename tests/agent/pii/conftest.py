"""Fixtures for the PII tests: one analyzer per session (~1 s to build), a vault on a SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine
from sqlmodel import create_engine

from agent.pii import PiiVault, Redactor
from agent.pii.analyzer import DeskpilotAnalyzer


@pytest.fixture(scope="session")
def pii_analyzer(analyzer: Any) -> DeskpilotAnalyzer:
    """The session's shared analyzer (tests/conftest.py builds it with `build_analyzer()`)."""
    assert isinstance(analyzer, DeskpilotAnalyzer)
    return analyzer


@pytest.fixture
def vault_db(tmp_path: Path) -> Path:
    return tmp_path / "vault.db"


@pytest.fixture
def vault_engine(vault_db: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{vault_db}", connect_args={"check_same_thread": False, "timeout": 30})
    yield engine
    engine.dispose()


@pytest.fixture
def vault_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
def vault(vault_engine: Engine, vault_key: bytes) -> PiiVault:
    return PiiVault(vault_engine, vault_key, retention_days=90)


@pytest.fixture
def redactor(pii_analyzer: DeskpilotAnalyzer, vault: PiiVault) -> Redactor:
    return Redactor(pii_analyzer, vault)
