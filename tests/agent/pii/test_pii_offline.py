"""Building and using the analyzer opens no connection; a missing model fails instead of downloading."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from agent.pii import build_analyzer
from agent.pii.engine import ModelNotInstalled


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_build_and_first_analysis_stay_offline(no_network: list[Any]) -> None:
    analyzer = build_analyzer()
    text = "Mail dana.w@example.co.uk or visit https://shop.example.com, I'm Dana Whitfield"
    found = {text[r.start : r.end]: r.entity_type for r in analyzer.analyze(text, "en")}
    # The e-mail recognizer validated the domain against the bundled suffix list, without fetching it.
    assert found.get("dana.w@example.co.uk") == "EMAIL_ADDRESS"
    assert found.get("Dana Whitfield") == "PERSON"
    assert no_network == []


def test_missing_model_fails_fast_without_download(no_network: list[Any]) -> None:
    with pytest.raises(ModelNotInstalled):
        build_analyzer("en_core_web_xx_not_installed")
    assert no_network == []
