"""The integrations registry: register, list, rotate, remove; provider validation; sealed secrets; CLI."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.integrations import PROVIDERS, Integration, SecretBox, SecretsUnreadable
from api.integrations.providers import PROVIDER_NAMES, SlackConfig, ZendeskConfig
from api.models import AuditEvent
from tests.api.test_postgres import pg_engine  # noqa: F401  (fixture)
from tests.conftest import bearer, make_client


def secret(label: str) -> str:
    """A value distinctive enough that finding it anywhere means it leaked."""
    return f"{label}-{uuid.uuid4().hex}"


def registration(provider: str) -> dict[str, Any]:
    """A valid body for each provider, with fresh secrets."""
    bodies: dict[str, dict[str, Any]] = {
        "zendesk": {
            "config": {"base_url": "https://shop.zendesk.com/", "email": "agent@shop.example"},
            "secrets": {"signing_secret": secret("zd-sign"), "api_token": secret("zd-token")},
        },
        "jira": {
            "config": {"base_url": "https://shop.atlassian.net", "email": "agent@shop.example"},
            "secrets": {"webhook_secret": secret("jira-hook"), "api_token": secret("jira-token")},
        },
        "freshdesk": {
            "config": {"base_url": "https://shop.freshdesk.com"},
            "secrets": {"token": secret("fd-token"), "api_key": secret("fd-key")},
        },
        "generic": {
            "config": {"callback_url": "http://127.0.0.1:9000/deskpilot/results"},
            "secrets": {"secret": secret("generic")},
        },
        "slack": {
            "config": {"approver_user_ids": ["U024BE7LH"], "mode": "assist"},
            "secrets": {"signing_secret": secret("slack-sign"), "bot_token": "xoxb-" + secret("bot")},
        },
    }
    return bodies[provider] | {"provider": provider}


def rotate(client: Any, integration_id: str, headers: dict[str, str], **body: Any) -> Any:
    return client.put(f"/v1/integrations/{integration_id}/secrets", json=body, headers=headers)


@pytest.fixture
def client(settings: Any, engine: Any) -> Iterator[Any]:
    with make_client(settings, engine) as client:
        yield client


@pytest.fixture
def admin(engine: Any) -> dict[str, str]:
    return bearer(engine, "default", ("admin",))


@pytest.fixture
def clock(client: Any) -> list[datetime]:
    """The registry's clock, moved by assigning `clock[0]`."""
    now = [datetime.now(UTC)]
    client.app.state.runtime.integrations.clock = lambda: now[0]
    return now


# --- the admin API ---------------------------------------------------------------------------------------


def test_register_list_get_and_remove(client: Any, admin: dict[str, str]) -> None:
    body = registration("zendesk")
    created = client.post("/v1/integrations", json=body, headers=admin)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["provider"] == "zendesk" and out["id"].startswith("int_")
    assert out["inbound_url"] == f"/v1/webhooks/zendesk/{out['id']}"
    assert out["config"] == {
        "base_url": "https://shop.zendesk.com",  # stored without the trailing slash
        "email": "agent@shop.example",
        "set_priority": False,
        "set_group": False,
    }
    assert out["secret_names"] == ["api_token", "signing_secret"] and out["rotated_at"] is None
    assert "secrets" not in out

    listed = client.get("/v1/integrations", headers=admin).json()
    assert listed == [out]
    assert client.get(f"/v1/integrations/{out['id']}", headers=admin).json() == out

    assert client.delete(f"/v1/integrations/{out['id']}", headers=admin).status_code == 204
    assert client.get(f"/v1/integrations/{out['id']}", headers=admin).status_code == 404
    assert client.delete(f"/v1/integrations/{out['id']}", headers=admin).status_code == 404
    assert client.get("/v1/integrations", headers=admin).json() == []
    assert client.app.state.runtime.integrations.get(out["id"]) is None

    events = [e["type"] for e in client.get("/v1/audit", headers=admin).json()]
    assert events[:2] == ["integration.deleted", "integration.created"]


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_every_provider_registers_with_its_inbound_url(
    client: Any, admin: dict[str, str], provider: str
) -> None:
    out = client.post("/v1/integrations", json=registration(provider), headers=admin).json()
    expected = "/v1/slack/{id}/events" if provider == "slack" else f"/v1/webhooks/{provider}/{{id}}"
    assert out["inbound_url"] == expected.format(id=out["id"])
    assert out["secret_names"] == sorted(PROVIDERS[provider].secret_names)


def test_slack_config_defaults(client: Any, admin: dict[str, str]) -> None:
    out = client.post("/v1/integrations", json=registration("slack"), headers=admin).json()
    assert out["config"]["api_base_url"] == "https://slack.com/api/" and out["config"]["mode"] == "assist"
    service = client.app.state.runtime.integrations
    config = service.config(service.get(out["id"]))
    assert isinstance(config, SlackConfig) and config.approver_user_ids == ["U024BE7LH"]


def _with(provider: str, section: str | None = None, **changes: Any) -> dict[str, Any]:
    body = registration(provider)
    if section:
        body[section] = {k: v for k, v in {**body[section], **changes}.items() if v is not None}
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with("zendesk") | {"provider": "helpscout"}, "provider"),
        (_with("zendesk", "config", base_url="ftp://shop.zendesk.com"), "config.base_url"),
        (_with("zendesk", "config", base_url="shop.zendesk.com"), "config.base_url"),
        (_with("zendesk", "config", base_url="https://user:pw@shop.zendesk.com"), "config.base_url"),
        (_with("zendesk", "config", subdomain="shop"), "config.subdomain"),
        (_with("zendesk", "config", set_priority="sometimes"), "config.set_priority"),
        (_with("zendesk", "secrets", api_token=None), "secrets.api_token"),
        (_with("zendesk", "secrets", signing_secret="short"), "secrets.signing_secret"),
        (_with("zendesk", "secrets", password="hunter2hunter2hunter2"), "secrets.password"),
        (_with("jira", "config", email="not-an-address"), "config.email"),
        (_with("jira", "config", base_url=None), "config.base_url"),
        (_with("freshdesk", "secrets", token=None), "secrets.token"),
        (_with("generic", "config", callback_url="javascript:alert(1)"), "config.callback_url"),
        (_with("slack", "config", mode="alerts_only"), "config.alerts_channel"),
        (_with("slack", "config", mode="shout"), "config.mode"),
        (_with("slack", "config", approver_user_ids=["alice"]), "config.approver_user_ids.0"),
        (_with("slack", "config", api_base_url="file:///etc/passwd"), "config.api_base_url"),
    ],
)
def test_bad_registrations_are_422_naming_the_field(
    client: Any, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/integrations", json=body, headers=admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert field in [p["field"] for p in error["details"]["problems"]], error
    assert field in error["message"]
    assert client.get("/v1/integrations", headers=admin).json() == []


def test_config_and_secret_problems_are_reported_together(client: Any, admin: dict[str, str]) -> None:
    body = _with("zendesk", "config", base_url="nope") | {"secrets": {}}
    problems = client.post("/v1/integrations", json=body, headers=admin).json()["error"]["details"][
        "problems"
    ]
    assert {p["field"] for p in problems} == {
        "config.base_url",
        "secrets.signing_secret",
        "secrets.api_token",
    }


def test_only_admin_keys_manage_integrations(client: Any, engine: Any) -> None:
    for scopes in (("agent",), ("integration",), ("approve",)):
        headers = bearer(engine, "default", scopes)
        assert (
            client.post("/v1/integrations", json=registration("generic"), headers=headers).status_code == 403
        )
        assert client.get("/v1/integrations", headers=headers).status_code == 403
    assert client.get("/v1/integrations").status_code == 401


def test_another_tenants_integration_is_not_found(client: Any, engine: Any, admin: dict[str, str]) -> None:
    acme = bearer(engine, "acme", ("admin",))
    mine = client.post("/v1/integrations", json=registration("jira"), headers=admin).json()["id"]
    theirs = client.post("/v1/integrations", json=registration("jira"), headers=acme).json()["id"]

    assert [i["id"] for i in client.get("/v1/integrations", headers=acme).json()] == [theirs]
    assert client.get(f"/v1/integrations/{mine}", headers=acme).status_code == 404
    assert rotate(client, mine, acme, secrets=registration("jira")["secrets"]).status_code == 404
    assert client.delete(f"/v1/integrations/{mine}", headers=acme).status_code == 404
    assert client.get(f"/v1/integrations/{mine}", headers=admin).json()["rotated_at"] is None

    service = client.app.state.runtime.integrations
    assert service.get_for_tenant("acme", mine) is None
    assert service.get_for_tenant("default", mine) is not None
    found = service.get(mine)  # an inbound delivery knows only the id: the row says whose it is
    assert found is not None and found.tenant == "default"


# --- rotation ----------------------------------------------------------------------------------------------


def test_rotation_keeps_the_previous_secret_during_grace(
    client: Any, admin: dict[str, str], clock: list[datetime]
) -> None:
    service = client.app.state.runtime.integrations
    first = registration("generic")
    integration_id = client.post("/v1/integrations", json=first, headers=admin).json()["id"]
    old = first["secrets"]["secret"]

    new = secret("generic-2")
    rotated = rotate(client, integration_id, admin, secrets={"secret": new})
    assert rotated.status_code == 200, rotated.text
    until = datetime.fromisoformat(rotated.json()["previous_secrets_valid_until"])
    assert until == clock[0] + timedelta(hours=24)  # the setting's default
    assert rotated.json()["rotated_at"] is not None

    integration = service.get(integration_id)
    assert service.secrets(integration) == {"secret": new}
    assert service.verification_secrets(integration, "secret") == [new, old]
    clock[0] += timedelta(hours=23, minutes=59)
    assert service.verification_secrets(integration, "secret") == [new, old]
    clock[0] += timedelta(minutes=1)
    assert service.verification_secrets(integration, "secret") == [new]

    # A grace period of the caller's choosing; 0 retires the old set at once.
    newer = secret("generic-3")
    assert rotate(client, integration_id, admin, secrets={"secret": newer}, grace_hours=0).status_code == 200
    assert service.verification_secrets(service.get(integration_id), "secret") == [newer]
    newest = secret("generic-4")
    assert (
        rotate(client, integration_id, admin, secrets={"secret": newest}, grace_hours=0.5).status_code == 200
    )
    assert service.verification_secrets(service.get(integration_id), "secret") == [newest, newer]
    clock[0] += timedelta(minutes=31)
    assert service.verification_secrets(service.get(integration_id), "secret") == [newest]

    events = [
        e for e in client.get("/v1/audit", headers=admin).json() if e["type"] == "integration.secrets_rotated"
    ]
    assert len(events) == 3 and events[-1]["payload"]["secret_names"] == ["secret"]


def test_a_bad_rotation_changes_nothing(client: Any, admin: dict[str, str]) -> None:
    body = registration("zendesk")
    integration_id = client.post("/v1/integrations", json=body, headers=admin).json()["id"]
    response = rotate(client, integration_id, admin, secrets={"signing_secret": secret("only-one")})
    assert response.status_code == 422 and "secrets.api_token" in response.json()["error"]["message"]
    assert (
        rotate(client, integration_id, admin, secrets=body["secrets"], grace_hours=10_000).status_code == 422
    )
    service = client.app.state.runtime.integrations
    integration = service.get(integration_id)
    assert service.secrets(integration) == body["secrets"] and integration.rotated_at is None
    assert rotate(client, "int_missing", admin, secrets=body["secrets"]).status_code == 404


def test_grace_default_comes_from_the_settings(settings: Any, engine: Any, admin: dict[str, str]) -> None:
    with make_client(settings.model_copy(update={"integration_secret_grace_hours": 2.0}), engine) as client:
        integration_id = client.post(
            "/v1/integrations", json=registration("freshdesk"), headers=admin
        ).json()["id"]
        out = rotate(client, integration_id, admin, secrets=registration("freshdesk")["secrets"]).json()
    until, rotated = (datetime.fromisoformat(out[k]) for k in ("previous_secrets_valid_until", "rotated_at"))
    assert until - rotated == timedelta(hours=2)


# --- the channel side ------------------------------------------------------------------------------------


def test_what_channels_read(client: Any, admin: dict[str, str]) -> None:
    body = registration("zendesk") | {
        "config": {"base_url": "https://a.zendesk.com", "email": "x@y.io", "set_group": True}
    }
    integration_id = client.post("/v1/integrations", json=body, headers=admin).json()["id"]
    service = client.app.state.runtime.integrations
    integration = service.get(integration_id)
    assert integration is not None and integration.provider == "zendesk"
    config = service.config(integration)
    assert isinstance(config, ZendeskConfig) and config.set_group and not config.set_priority
    assert service.secrets(integration) == body["secrets"]
    assert service.verification_secrets(integration, "signing_secret") == [body["secrets"]["signing_secret"]]
    with pytest.raises(KeyError):
        service.verification_secrets(integration, "webhook_secret")
    assert service.get("int_does_not_exist") is None


def test_sealed_secrets_open_only_for_their_row_and_under_their_key() -> None:
    vault_key = Fernet.generate_key()
    box = SecretBox(vault_key)
    token = box.seal("int_a", {"secret": "s" * 20})
    assert box.open("int_a", token) == {"secret": "s" * 20}
    with pytest.raises(SecretsUnreadable):
        box.open("int_b", token)  # copied onto another integration's row
    with pytest.raises(SecretsUnreadable):
        SecretBox(Fernet.generate_key()).open("int_a", token)
    with pytest.raises(InvalidToken):
        Fernet(vault_key).decrypt(token.encode())  # the vault's own key is not the one sealing secrets


@pytest.mark.postgres
def test_the_registry_on_postgres(pg_engine: Any, box: SecretBox) -> None:  # noqa: F811
    from api.audit import AuditLog
    from api.integrations import IntegrationService

    service = IntegrationService(engine=pg_engine, audit=AuditLog(pg_engine), box=box, grace_hours=1)
    body = registration("jira")
    integration = service.create(
        tenant="acme", actor="test", provider="jira", **{k: body[k] for k in ("config", "secrets")}
    )
    old = body["secrets"]["webhook_secret"]
    new = {"webhook_secret": secret("pg-hook"), "api_token": secret("pg-token")}
    service.rotate(tenant="acme", integration_id=integration.id, secrets=new, actor="test")
    found = service.get(integration.id)
    assert found is not None and found.previous_valid_until is not None
    assert service.verification_secrets(found, "webhook_secret") == [new["webhook_secret"], old]
    assert [i.id for i in service.list_for_tenant("acme")] == [integration.id]
    service.delete(tenant="acme", integration_id=integration.id, actor="test")
    assert service.get(integration.id) is None and AuditLog(pg_engine).verify("acme").ok


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


# --- secrecy -----------------------------------------------------------------------------------------------


def test_secrets_never_appear_in_responses_logs_audit_or_the_database_file(
    client: Any, engine: Any, admin: dict[str, str], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses: list[str] = []
    values: list[str] = []

    def call(method: str, url: str, **kwargs: Any) -> Any:
        response = client.request(method, url, headers=admin, **kwargs)
        responses.append(response.text + json.dumps(dict(response.headers)))
        return response

    ids = []
    for provider in PROVIDER_NAMES:
        body = registration(provider)
        values += body["secrets"].values()
        ids.append(call("POST", "/v1/integrations", json=body).json()["id"])
    rotation = registration("slack")["secrets"]
    values += rotation.values()
    call("PUT", f"/v1/integrations/{ids[-1]}/secrets", json={"secrets": rotation})
    # Refused requests must not echo what they were sent either.
    rejected = registration("zendesk")
    rejected["config"]["base_url"] = "ftp://nowhere"
    rejected["secrets"]["signing_secret"] = secret("x")[:12]  # too short, so refused
    values += rejected["secrets"].values()
    assert call("POST", "/v1/integrations", json=rejected).status_code == 422
    short = secret("rot-short")[:14]
    values.append(short)
    bad_rotation = {"secrets": {"signing_secret": short, "bot_token": 7}}
    assert call("PUT", f"/v1/integrations/{ids[-1]}/secrets", json=bad_rotation).status_code == 422
    call("GET", "/v1/integrations")
    for integration_id in ids:
        call("GET", f"/v1/integrations/{integration_id}")
    call("DELETE", f"/v1/integrations/{ids[0]}")
    call("GET", "/v1/audit")

    service = client.app.state.runtime.integrations
    assert service.secrets(service.get(ids[-1])) == rotation  # stored, and retrievable by the channels

    with Session(engine) as session:
        audit_payloads = [json.dumps(e.payload) for e in session.exec(select(AuditEvent))]
        sealed = [i.sealed_secrets for i in session.exec(select(Integration))]
    assert any("integration.secrets_rotated" in r for r in responses)
    assert sealed and all(s.startswith("gAAAA") for s in sealed)  # Fernet tokens

    log_text = caplog.text + "\n".join(str(r.args) + repr(r.__dict__) for r in caplog.records)
    database = b"".join(p.read_bytes() for p in sorted(settings.home.rglob("*")) if p.is_file())
    assert any(p.name.endswith("-wal") for p in settings.home.rglob("*"))  # WAL content is checked too
    for value in values:
        assert all(value not in text for text in responses), "a secret in a response"
        assert value not in log_text, "a secret in the logs"
        assert all(value not in payload for payload in audit_payloads), "a secret in the audit log"
        assert value.encode() not in database, "a secret in plain text on disk"


# --- the command line --------------------------------------------------------------------------------------


@pytest.fixture
def runner(settings: Any, engine: Any, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    from api import cli

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    return CliRunner()


def test_cli_add_list_rotate_remove(runner: CliRunner, engine: Any, settings: Any) -> None:
    from api import cli
    from api.audit import AuditLog
    from api.runtime import build_integrations

    signing, token = secret("cli-sign"), secret("cli-token")
    added = runner.invoke(
        cli.app,
        [
            "integrations", "add", "zendesk", "--tenant", "acme",
            "--config", "base_url=https://acme.zendesk.com", "--config", "email=ops@acme.example",
            "--config", "set_priority=true",
            "--secret", f"signing_secret={signing}", "--secret", f"api_token={token}",
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    integration_id, inbound_url = added.stdout.split()
    assert inbound_url == f"/v1/webhooks/zendesk/{integration_id}"

    slack = runner.invoke(
        cli.app,
        [
            "integrations", "add", "slack", "--tenant", "acme", "--json",
            "--config", 'approver_user_ids=["U0AAA", "U0BBB"]', "--config-json", '{"mode": "assist"}',
            "--secrets-json", "-",
        ],
        input=json.dumps({"signing_secret": signing, "bot_token": token}),
    )  # fmt: skip
    assert slack.exit_code == 0, slack.output
    slack_out = json.loads(slack.stdout)
    assert slack_out["config"]["approver_user_ids"] == ["U0AAA", "U0BBB"]

    listed = runner.invoke(cli.app, ["integrations", "list", "--tenant", "acme", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [i["id"] for i in json.loads(listed.stdout)] == [integration_id, slack_out["id"]]
    assert "zendesk" in runner.invoke(cli.app, ["integrations", "list", "--tenant", "acme"]).stdout
    assert "no integrations" in runner.invoke(cli.app, ["integrations", "list"]).stdout

    new_signing = secret("cli-sign-2")
    rotated = runner.invoke(
        cli.app,
        [
            "integrations", "rotate", integration_id, "--tenant", "acme", "--grace-hours", "1",
            "--secret", f"signing_secret={new_signing}", "--secret", f"api_token={token}",
        ],
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    service = build_integrations(settings, engine, AuditLog(engine))
    integration = service.get(integration_id)
    assert integration is not None and integration.tenant == "acme"
    assert service.config(integration).model_dump()["set_priority"] is True
    assert service.verification_secrets(integration, "signing_secret") == [new_signing, signing]

    removed = runner.invoke(cli.app, ["integrations", "remove", integration_id, "--tenant", "acme"])
    assert removed.exit_code == 0 and service.get(integration_id) is None
    again = runner.invoke(cli.app, ["integrations", "remove", integration_id, "--tenant", "acme"])
    assert again.exit_code == 2 and "not found" in again.output

    for result in (added, slack, listed, rotated, removed):
        assert all(value not in result.output for value in (signing, token, new_signing))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["add", "zendesk", "--config", "base_url=ftp://x", "--config", "email=a@b.io"], "config.base_url"),
        (["add", "nope"], "provider"),
        (["add", "generic", "--config", "callback_url"], "NAME=VALUE"),
        (["add", "generic", "--secrets-json", "[1]"], "JSON object"),
        (["add", "generic", "--secrets-json", "{broken"], "not valid JSON"),
        (["list", "--tenant", "Bad Tenant!"], "tenant"),
        (["rotate", "int_missing", "--secret", "secret=abcdefghijklmnopqrstuvwxyz"], "not found"),
    ],
)
def test_cli_refuses_bad_input(runner: CliRunner, args: list[str], expected: str) -> None:
    from api import cli

    result = runner.invoke(cli.app, ["integrations", *args])
    assert result.exit_code == 2, result.output
    assert expected in result.output
