"""The deskpilot command: keys, ask, serve's bootstrap key, audit verify (see test_audit)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from api import cli
from api.auth import authenticate


@pytest.fixture
def runner(settings: Any, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    return CliRunner()


def test_keys_create_json(runner: CliRunner, engine: Any) -> None:
    result = runner.invoke(
        cli.app, ["keys", "create", "--tenant", "acme", "--scopes", "agent,admin", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["tenant"] == "acme" and out["scopes"] == ["agent", "admin"]
    principal = authenticate(engine, out["key"])
    assert principal is not None and principal.tenant == "acme" and principal.scopes == {"agent", "admin"}


@pytest.mark.parametrize("args", [["--tenant", "acme", "--scopes", "root"], ["--tenant", "Bad Tenant!"]])
def test_keys_create_rejects_bad_input(runner: CliRunner, engine: Any, args: list[str]) -> None:
    result = runner.invoke(cli.app, ["keys", "create", *args])
    assert result.exit_code == 2 and "error" in result.output


def test_ask_runs_a_turn_through_run_turn(
    runner: CliRunner, seeded_engine: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api import runtime

    monkeypatch.setattr(runtime, "build_knowledge", lambda settings: None)
    monkeypatch.setattr(runtime, "build_redactor", lambda settings, engine: None)
    from tools.backends.sql import SqlStoreBackend

    profile = SqlStoreBackend(seeded_engine).customer_profile("default", "CUS-1001")
    assert profile is not None
    order = profile.orders[0].order_number
    result = runner.invoke(cli.app, ["ask", f"Where is {order}?", "--customer", "CUS-1001", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["tool_calls"][0]["name"] == "lookup_order" and out["degraded"] is True
    follow_up = runner.invoke(
        cli.app,
        [
            "ask",
            "Can I get a refund for it?",
            "--customer",
            "CUS-1001",
            "--conversation",
            out["conversation_id"],
            "--json",
        ],
    )
    assert json.loads(follow_up.stdout)["tool_calls"][0]["args"] == {"order_number": order}
    unknown = runner.invoke(cli.app, ["ask", "hi", "--customer", "CUS-99999"])
    assert unknown.exit_code == 2 and "not found" in unknown.output


def test_serve_prints_a_bootstrap_key_once(
    runner: CliRunner, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.append(kwargs))
    first = runner.invoke(cli.app, ["serve", "--port", "8123"])
    assert first.exit_code == 0, first.output
    key = next(line for line in first.stdout.splitlines() if line.startswith("dp_"))
    principal = authenticate(engine, key)
    assert principal is not None and principal.tenant == "default" and "admin" in principal.scopes
    second = runner.invoke(cli.app, ["serve"])
    assert not any(line.startswith("dp_") for line in second.stdout.splitlines())
    assert {k: started[0][k] for k in ("host", "port", "proxy_headers")} == {
        "host": "127.0.0.1", "port": 8123, "proxy_headers": False  # the app reads trusted proxies itself
    }
