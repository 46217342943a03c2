"""Tenant staff names (settings) are spared by redaction on the turn path, only as whole names and only
for their own tenant; everything else in the same message is still redacted before the model sees it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.pii.placeholders import PLACEHOLDER
from bench.pii_generated import fresh_seed
from bench.pii_messages import Generator
from tests.conftest import bearer, make_client, online
from tests.support import Reply

DEFAULT_STAFF = ["Anna Lee", "Ravi Okonkwo"]
ACME_STAFF = ["Marta Kowalczyk"]


@pytest.fixture
def online_settings(settings: Any, openai_stub: Any) -> Any:
    openai_stub.default = lambda body: Reply("Thanks, we are on it.")
    return online(settings, openai_stub)


def _user_texts(stub: Any) -> list[str]:
    """What the model was sent as the customer's and the staff's words, request by request."""
    return [
        json.dumps([m for m in r.json["messages"] if m["role"] in {"user", "assistant"}], ensure_ascii=False)
        for r in stub.chat_requests
    ]


def _send(client: Any, headers: dict[str, str], customer: str, text: str) -> str:
    conversation = client.post("/v1/conversations", json={"customer_id": customer}, headers=headers).json()[
        "id"
    ]
    response = client.post(
        f"/v1/conversations/{conversation}/messages", headers=headers, json={"content": text}
    )
    assert response.status_code == 200, response.text
    return str(conversation)


def test_staff_names_reach_the_model_only_for_their_tenant(
    online_settings: Any, seeded_engine: Any, redactor: Any, openai_stub: Any
) -> None:
    default_admin = bearer(seeded_engine, "default", ("admin", "agent"))
    acme_admin = bearer(seeded_engine, "acme", ("admin", "agent"))
    message = (
        "Hi, Anna Lee from your team promised me a refund last week. I'm Anna Smith, by the way. "
        "Marta Kowalczyk said the same. Thanks Ravi Okonkwo for the follow-up!"
    )
    with make_client(online_settings, seeded_engine, redactor=redactor) as client:
        for headers, names in ((default_admin, DEFAULT_STAFF), (acme_admin, ACME_STAFF)):
            put = client.put("/v1/tenant/settings", json={"staff_names": names}, headers=headers)
            assert put.status_code == 200 and put.json()["staff_names"] == names, put.text
        assert client.get("/v1/tenant/settings", headers=default_admin).json()["staff_names"] == DEFAULT_STAFF

        conversation = _send(client, default_admin, "CUS-1001", message)
        default_sent = _user_texts(openai_stub)[-1]
        # A staff reply (redacted on the way in too) is part of the next turn's context.
        staff = client.post(
            f"/v1/conversations/{conversation}/staff-messages",
            headers=default_admin,
            json={"content": "Anna Lee here: I have asked Anna Smith's bank, see you soon.", "kind": "staff"},
        )
        assert staff.status_code == 201, staff.text
        client.post(
            f"/v1/conversations/{conversation}/messages", headers=default_admin, json={"content": "Any news?"}
        )
        staff_sent = _user_texts(openai_stub)[-1]

        _send(client, acme_admin, "CUS-1001", message)
        acme_sent = _user_texts(openai_stub)[-1]

    # The tenant's own staff stay, whole; a customer sharing a staff first name and another tenant's
    # staff member are redacted.
    assert "Anna Lee" in default_sent and "Ravi Okonkwo" in default_sent
    assert "Anna Smith" not in default_sent and "Smith" not in default_sent
    assert "Marta Kowalczyk" not in default_sent and "Kowalczyk" not in default_sent
    assert len(set(re.findall(r"<PERSON_\d+>", default_sent))) == 2
    assert "Anna Lee here" in staff_sent and "Smith" not in staff_sent
    assert "Marta Kowalczyk" in acme_sent
    for value in ("Anna Lee", "Ravi Okonkwo", "Anna Smith", "Okonkwo", "Smith"):
        assert value not in acme_sent, value


@pytest.mark.parametrize(
    "names",
    [[f"Staff Member {i}" for i in range(201)], ["x" * 81], [""], ["   "], "Anna Lee"],
    ids=["201 names", "81 chars", "empty", "blank", "not a list"],
)
def test_staff_names_are_bounded(settings: Any, seeded_engine: Any, names: Any) -> None:
    admin = bearer(seeded_engine, "default", ("admin",))
    with make_client(settings, seeded_engine) as client:
        response = client.put("/v1/tenant/settings", json={"staff_names": names}, headers=admin)
        assert response.status_code == 422, response.text
        assert client.get("/v1/tenant/settings", headers=admin).json()["staff_names"] == []
        ok = [f"Staff Member {i}" for i in range(200)]
        assert client.put("/v1/tenant/settings", json={"staff_names": ok}, headers=admin).status_code == 200


def test_tenant_cli_sets_staff_names(settings: Any, seeded_engine: Any, monkeypatch: Any) -> None:
    from api import settings as settings_module
    from api.cli import app

    monkeypatch.setenv("DESKPILOT_HOME", str(settings.home))
    settings_module.get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(app, ["tenant", "set", "--tenant", "acme", "staff_names=Anna Lee, Tom Okafor"])
        assert listed.exit_code == 0, listed.output
        assert json.loads(listed.stdout)["staff_names"] == ["Anna Lee", "Tom Okafor"]
        as_json = runner.invoke(app, ["tenant", "set", "--tenant", "acme", 'staff_names=["Lee, Anna"]'])
        assert as_json.exit_code == 0 and json.loads(as_json.stdout)["staff_names"] == ["Lee, Anna"]
        cleared = runner.invoke(app, ["tenant", "set", "--tenant", "acme", "staff_names="])
        assert cleared.exit_code == 0 and json.loads(cleared.stdout)["staff_names"] == []
        too_long = runner.invoke(app, ["tenant", "set", "--tenant", "acme", f"staff_names={'x' * 81}"])
        assert too_long.exit_code == 2 and "staff_names" in too_long.stderr
    finally:
        settings_module.get_settings.cache_clear()


def test_generated_pii_free_messages_keep_the_tenants_staff_names(
    online_settings: Any, seeded_engine: Any, redactor: Any, openai_stub: Any
) -> None:
    """The generated PII-free set (bench/pii_messages.py), its staff names set as the tenant's settings,
    through the API: messages that mention staff reach the model untouched."""
    seed = fresh_seed()
    print(f"generated PII-free seed: {seed} (replay: Generator({seed}).clean_messages(...))")
    generator = Generator(seed)
    staff = generator.allow_list
    names = [p.first for p in generator.staff] + [p.full for p in generator.staff]
    messages = [m for m in generator.clean_messages(400) if any(n in m for n in names)][:12]
    assert len(messages) >= 8, seed
    admin = bearer(seeded_engine, "default", ("admin", "agent"))
    with make_client(online_settings, seeded_engine, redactor=redactor) as client:
        assert (
            client.put("/v1/tenant/settings", json={"staff_names": staff}, headers=admin).status_code == 200
        )
        touched = []
        for text in messages:
            _send(client, admin, "CUS-1001", text)
            sent = _user_texts(openai_stub)[-1]
            if PLACEHOLDER.search(sent) or not all(n in sent for n in names if n in text):
                touched.append((text, sent))
    assert not touched, (seed, touched[:3])
