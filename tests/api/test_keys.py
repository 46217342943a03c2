"""API keys: the admin API and `deskpilot keys`, expiry, last use, and refusal at once on every process."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from api import cli
from api.auth import authenticate, create_key
from api.models import ApiKey, utcnow
from tests.conftest import bearer, make_client


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_admin_api_lists_creates_rotates_and_revokes_within_the_tenant(settings: Any, engine: Any) -> None:
    admin = bearer(engine, scopes=("admin",))
    _, other_tenant_secret = create_key(engine, tenant="acme", scopes=["agent"])
    other_id = next(k.id for k in _rows(engine) if k.tenant == "acme")
    with make_client(settings, engine) as client:
        created = client.post("/v1/keys", json={"scopes": ["agent"], "name": "helpdesk"}, headers=admin)
        assert created.status_code == 201, created.text
        key = created.json()
        works = client.get("/v1/customers", headers=auth(key["key"]))
        listed = client.get("/v1/keys", headers=admin).json()["keys"]

        rotated = client.post(f"/v1/keys/{key['id']}/rotate", headers=admin)
        old_after_rotation = client.get("/v1/customers", headers=auth(key["key"]))
        new_after_rotation = client.get("/v1/customers", headers=auth(rotated.json()["key"]))
        rotate_again = client.post(f"/v1/keys/{key['id']}/rotate", headers=admin)

        revoked = client.delete(f"/v1/keys/{rotated.json()['id']}", headers=admin)
        after_revoke = client.get("/v1/customers", headers=auth(rotated.json()["key"]))

        foreign = [
            client.delete(f"/v1/keys/{other_id}", headers=admin).status_code,
            client.post(f"/v1/keys/{other_id}/rotate", headers=admin).status_code,
        ]
        by_secret = client.delete(f"/v1/keys/{key['key']}", headers=admin)
        audit = client.get("/v1/audit", headers=admin).json()

    assert works.status_code == 200
    assert {k["id"] for k in listed} >= {key["id"]} and all("key" not in k for k in listed)
    assert not any("hash" in field for k in listed for field in k)
    assert other_id not in {k["id"] for k in listed}  # another tenant's keys stay out of sight
    assert rotated.status_code == 200 and rotated.json()["scopes"] == ["agent"]
    assert rotated.json()["name"] == "helpdesk" and rotated.json()["id"] != key["id"]
    assert old_after_rotation.status_code == 401 and new_after_rotation.status_code == 200
    assert rotate_again.status_code == 409
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert after_revoke.status_code == 401
    assert foreign == [404, 404]
    assert authenticate(engine, other_tenant_secret) is not None  # untouched
    assert by_secret.status_code == 422  # a secret never goes in a URL
    assert {"key.created", "key.rotated", "key.revoked"} <= {e["type"] for e in audit}


def test_keys_need_the_admin_scope(settings: Any, engine: Any) -> None:
    agent = bearer(engine, scopes=("agent", "integration", "approve"))
    with make_client(settings, engine) as client:
        answers = [
            client.get("/v1/keys", headers=agent).status_code,
            client.post("/v1/keys", json={"scopes": ["admin"]}, headers=agent).status_code,
        ]
    assert answers == [403, 403]


def test_an_expired_key_is_refused(settings: Any, engine: Any) -> None:
    admin = bearer(engine, scopes=("admin",))
    with make_client(settings, engine) as client:
        soon = (utcnow() + timedelta(hours=1)).isoformat()
        body = {"scopes": ["agent"], "expires_at": soon}
        created = client.post("/v1/keys", json=body, headers=admin).json()
        before = client.get("/v1/customers", headers=auth(created["key"]))
        with Session(engine) as session:  # an hour passes
            row = session.get(ApiKey, created["id"])
            assert row is not None
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
            session.commit()
        after = client.get("/v1/customers", headers=auth(created["key"]))
        past = client.post("/v1/keys", json={"scopes": ["agent"], "expires_at": "2020-01-01"}, headers=admin)
        listed = {k["id"]: k for k in client.get("/v1/keys", headers=admin).json()["keys"]}
    assert before.status_code == 200
    assert after.status_code == 401 and "expired" in after.json()["error"]["message"]
    assert past.status_code == 422
    assert listed[created["id"]]["active"] is False


def test_a_revocation_is_refused_at_once_by_another_process(settings: Any, engine: Any) -> None:
    """Two apps on one database stand for two processes: no cache outlives the revocation."""
    row, secret = create_key(engine, tenant="default", scopes=["agent"])
    with make_client(settings, engine) as first, make_client(settings, engine) as second:
        assert second.get("/v1/customers", headers=auth(secret)).status_code == 200
        revoked = first.delete(f"/v1/keys/{row.id}", headers=bearer(engine, scopes=("admin",)))
        assert revoked.status_code == 200
        assert second.get("/v1/customers", headers=auth(secret)).status_code == 401


def test_last_used_is_written_at_most_once_per_interval(engine: Any) -> None:
    row, secret = create_key(engine, tenant="default", scopes=["agent"])
    assert authenticate(engine, secret, touch_every_s=3600) is not None
    first = _get(engine, row.id).last_used_at
    for _ in range(5):
        authenticate(engine, secret, touch_every_s=3600)
    assert first is not None and _get(engine, row.id).last_used_at == first  # no write per request
    # Another process (its own memo) within the interval: the database's condition holds it back too.
    from api import auth as auth_module

    auth_module._touched.pop(row.id)
    authenticate(engine, secret, touch_every_s=3600)
    assert _get(engine, row.id).last_used_at == first
    auth_module._touched.pop(row.id)
    authenticate(engine, secret, touch_every_s=0)
    later = _get(engine, row.id).last_used_at
    assert later is not None and later > first


def _rows(engine: Any) -> list[ApiKey]:
    from api.auth import list_keys

    return list_keys(engine)


def _get(engine: Any, key_id: str) -> ApiKey:
    with Session(engine) as session:
        row = session.get(ApiKey, key_id)
    assert row is not None
    return row


@pytest.fixture
def runner(settings: Any, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    return CliRunner()


def test_cli_keys_list_rotate_and_revoke_by_id_or_by_the_key(runner: CliRunner, engine: Any) -> None:
    created = json.loads(
        runner.invoke(cli.app, ["keys", "create", "--tenant", "acme", "--scopes", "agent",
                                "--expires-in-days", "30", "--json"]).stdout
    )
    assert created["expires_at"] is not None
    listed = runner.invoke(cli.app, ["keys", "list", "--tenant", "acme", "--json"])
    assert listed.exit_code == 0 and created["key"] not in listed.stdout
    [shown] = json.loads(listed.stdout)
    assert shown["id"] == created["id"] and shown["active"] is True and shown["last_used_at"] is None

    rotated = runner.invoke(cli.app, ["keys", "rotate", created["id"], "--json"])
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)
    assert authenticate(engine, created["key"]) is None
    assert authenticate(engine, new["key"]) is not None and new["expires_at"] == created["expires_at"]

    by_secret = runner.invoke(cli.app, ["keys", "revoke", new["key"]])
    assert by_secret.exit_code == 0 and new["id"] in by_secret.stdout
    assert authenticate(engine, new["key"]) is None

    _, other = create_key(engine, tenant="acme", scopes=["agent"])
    other_id = next(k.id for k in _rows(engine) if k.id not in {created["id"], new["id"]})
    by_id = runner.invoke(cli.app, ["keys", "revoke", other_id])
    assert by_id.exit_code == 0 and authenticate(engine, other) is None
    assert runner.invoke(cli.app, ["keys", "revoke", "key_missing"]).exit_code == 2
    assert runner.invoke(cli.app, ["keys", "rotate", new["id"]]).exit_code == 2  # revoked: nothing to rotate
    table = runner.invoke(cli.app, ["keys", "list"]).stdout
    assert "revoked" in table and "acme" in table
