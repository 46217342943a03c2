"""Canary: known PII pushed through the full API never reaches the model, the database, checkpoints,
the audit table or the logs; only the restored replies carry it."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bearer, make_client, online
from tests.support import Reply, ToolCalls

# Values that appear nowhere in the demo shop's own customer records (which legitimately hold PII), so
# finding one in a database file can only mean it leaked from the conversation.
CANARIES = {
    "Priya Ramanathan": "PERSON",
    "priya.ramanathan@example.org": "EMAIL",
    "4111 1111 1111 1111": "CARD",
    "+1 415-555-0199": "PHONE",
    "742 Evergreen Terrace": "ADDRESS",
    # Issue 14: national identifiers, a phone extension, USPS and UK street forms, an unknown domain,
    # lower-case and unintroduced names.
    "JG 10 37 28 C": "NINO",
    "558 073 029": "SIN",
    "357-416-299": "TFN",
    "2615-9982-5963": "AADHAAR",
    "JEPPA1996V": "PAN",
    "5046631WA": "PPS",
    "589.616.2940x975": "PHONE",
    "zelda.quartermain@probe-mail.example": "EMAIL",
    "76625 Wells Light": "ADDRESS",
    "Wood Forges": "ADDRESS",
    "irene pugh-short": "PERSON",
    "Clare Townsend": "PERSON",
    # The rest of the generated set's structured types: US SSN and ITIN, IBAN, IP address.
    "536-22-8472": "SSN",
    "912-78-3456": "ITIN",
    "GB74 MIDL 4027 1831 9268 19": "IBAN",
    "203.0.113.77": "IP",
}
MESSAGE = (
    "I'm Priya Ramanathan, priya.ramanathan@example.org, card 4111 1111 1111 1111, phone "
    "+1 415-555-0199. Please send the replacement to 742 Evergreen Terrace, Springfield. "
    "Where is {order}?\n"
    "Also for my sister's order: my SSN is JG 10 37 28 C (UK), her SIN 558 073 029, TFN 357-416-299, "
    "Aadhaar 2615-9982-5963, PAN JEPPA1996V, PPS number 5046631WA. Call 589.616.2940x975 or write to "
    "zelda.quartermain@probe-mail.example. Ship to 76625 Wells Light, or to\nFlat 52\nWood Forges\n"
    "Leeds LS6 2AB\nher name is irene pugh-short, and Clare Townsend again - still waiting\n"
    "My own US SSN is 536-22-8472 and my wife's ITIN 912-78-3456; refund to IBAN "
    "GB74 MIDL 4027 1831 9268 19. Your site blocked my IP 203.0.113.77."
)


def all_bytes(paths: list[Path]) -> bytes:
    out = b""
    for path in paths:
        for candidate in (path, Path(f"{path}-wal")):
            if candidate.exists():
                out += candidate.read_bytes()
    return out


def variants(value: str) -> list[str]:
    digits = value.replace(" ", "").replace("-", "")
    return [value, digits] if any(c.isdigit() for c in value) else [value, value.lower()]


@pytest.fixture
def online_settings(settings: Any, openai_stub: Any) -> Any:
    return online(settings, openai_stub)


def test_no_raw_pii_outside_restored_replies(
    online_settings: Any,
    seeded_engine: Any,
    redactor: Any,
    demo_knowledge: Any,
    openai_stub: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = bearer(seeded_engine)
    home = online_settings.home
    assert not any(v.encode() in all_bytes([home / "deskpilot.db"]) for v in CANARIES)  # the premise
    with make_client(online_settings, seeded_engine, redactor=redactor, knowledge=demo_knowledge) as client:
        order = client.get("/v1/customers/CUS-1001", headers=headers).json()["orders"][0]["order_number"]
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()["id"]

        def answer(body: dict[str, Any]) -> Any:
            if body["messages"][-1]["role"] == "tool":
                # A model that uses the placeholders it was given, as the system prompt asks.
                seen = re.findall(r"<(?:PERSON|EMAIL)_\d+>", json.dumps(body["messages"]))
                person = next(p for p in seen if p.startswith("<PERSON"))
                email = next(p for p in seen if p.startswith("<EMAIL"))
                return Reply(f"Thanks {person}, your order is on its way; we'll e-mail {email}.")
            return ToolCalls([("lookup_order", {"order_number": order})])

        openai_stub.default = answer
        first = client.post(
            f"/v1/conversations/{conversation}/messages",
            headers=headers,
            json={"content": MESSAGE.format(order=order)},
        ).json()
        client.post(
            f"/v1/conversations/{conversation}/messages",
            headers=headers,
            json={"content": "Also my email is priya.ramanathan@example.org, did you get it?"},
        ).json()
        redacted = client.post(
            f"/v1/conversations/{conversation}/messages?redacted=true",
            headers=headers,
            json={"content": "thanks Priya Ramanathan"},
        ).json()
        history = client.get(f"/v1/conversations/{conversation}", headers=headers).json()
        admin = bearer(seeded_engine, "default", ("admin",))
        audit = client.get("/v1/audit", params={"limit": 1000}, headers=admin).json()

    # The replies to the customer/staff are restored...
    assert "Priya Ramanathan" in first["reply"] and "priya.ramanathan@example.org" in first["reply"]
    assert (
        first["redactions"].get("PERSON")
        and first["redactions"].get("EMAIL")
        and first["redactions"].get("CARD")
    )
    for kind in ("NINO", "SIN", "TFN", "AADHAAR", "PAN", "PPS", "SSN", "ITIN", "IBAN", "IP"):
        assert first["redactions"].get(kind), kind
    assert "Priya Ramanathan" in history["messages"][0]["content"]  # staff view, restored
    # ... and the same e-mail keeps its placeholder across turns (a stable, cacheable history).
    sent = [r.json for r in openai_stub.chat_requests]
    first_user = next(m["content"] for m in sent[0]["messages"] if m["role"] == "user")
    last_user = [m["content"] for m in sent[-1]["messages"] if m["role"] == "user" and not m.get("name")]
    placeholder = next(tok for tok in first_user.split() if tok.startswith("<EMAIL_"))
    assert placeholder.rstrip(",.") in last_user[-2]
    assert "<PERSON_" in redacted["reply"] and "Priya" not in redacted["reply"]

    # Nowhere else: model requests, the database and checkpoint files, the audit trail, the logs.
    requests_text = b"".join(r.raw for r in openai_stub.requests).decode()
    stored = all_bytes([home / "deskpilot.db", home / "checkpoints.db"])
    logs = caplog.text
    for value in CANARIES:
        for form in variants(value):
            assert form not in requests_text, f"{form!r} reached the model"
            assert form.encode() not in stored, f"{form!r} stored in a database file"
            assert form not in json.dumps(audit), f"{form!r} in the audit trail"
            assert form not in logs, f"{form!r} in the logs"

    # The tables that matter, read back through SQLite as well (not only raw pages).
    with sqlite3.connect(home / "deskpilot.db") as db:
        for table in ("messages", "audit_events", "usage_records"):
            dump = json.dumps(db.execute(f"SELECT * FROM {table}").fetchall(), default=str)
            assert "Priya Ramanathan" not in dump and "priya.ramanathan@example.org" not in dump


def test_erasing_a_conversations_vault(settings: Any, seeded_engine: Any, redactor: Any) -> None:
    headers = bearer(seeded_engine, "default", ("agent", "admin"))
    with make_client(settings, seeded_engine, redactor=redactor) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()["id"]
        client.post(
            f"/v1/conversations/{conversation}/messages",
            headers=headers,
            json={"content": "I'm Priya Ramanathan, priya.ramanathan@example.org"},
        )
        before = client.get(f"/v1/conversations/{conversation}", headers=headers).json()
        assert "Priya Ramanathan" in before["messages"][0]["content"]

        erased = client.delete(f"/v1/conversations/{conversation}/pii", headers=headers)
        assert erased.status_code == 200 and erased.json()["vault_entries_deleted"] >= 2
        after = client.get(f"/v1/conversations/{conversation}", headers=headers).json()
        assert (
            "Priya" not in after["messages"][0]["content"] and "<PERSON_" in after["messages"][0]["content"]
        )
        assert (
            client.delete(f"/v1/conversations/{conversation}/pii", headers=bearer(seeded_engine)).status_code
            == 403
        )
        assert client.delete("/v1/conversations/conv_nope/pii", headers=headers).status_code == 404


def test_placeholders_in_tool_arguments_are_resolved_on_the_trusted_side(
    settings: Any, seeded_engine: Any, redactor: Any, openai_stub: Any
) -> None:
    """The model only ever sees <ADDRESS_n>; the store receives the real street, and staff see it too."""
    from tools.backends.sql import SqlStoreBackend

    backend = SqlStoreBackend(seeded_engine)
    profile = backend.customer_profile("default", "CUS-1001")
    assert profile is not None
    order = next(o.order_number for o in profile.orders if o.status == "processing")
    agent_key = bearer(seeded_engine)
    approver = bearer(seeded_engine, "default", ("approve",))

    def model(body: dict[str, Any]) -> Any:
        if body["messages"][-1]["role"] == "tool":
            return Reply("Done: the new address is <ADDRESS_1>.")
        street = re.findall(r"<ADDRESS_\d+>", json.dumps(body["messages"]))[0]
        return ToolCalls(
            [
                (
                    "update_shipping_address",
                    {
                        "order_number": order,
                        "street": street,
                        "city": "Springfield",
                        "postal_code": "97477",
                        "country": "US",
                    },
                )
            ]
        )

    openai_stub.default = model
    with make_client(online(settings, openai_stub), seeded_engine, redactor=redactor) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent_key
        ).json()["id"]
        body = client.post(
            f"/v1/conversations/{conversation}/messages",
            headers=agent_key,
            json={"content": f"Please ship {order} to 742 Evergreen Terrace instead."},
        ).json()
        pending = client.get("/v1/approvals", headers=approver).json()
        client.post(
            f"/v1/approvals/{body['pending_approval']}", json={"decision": "approve"}, headers=approver
        )

    sent_args = [m for r in openai_stub.chat_requests for m in r.json["messages"] if m["role"] == "assistant"]
    assert "742 Evergreen" not in json.dumps(sent_args)  # the model never saw the street
    assert pending[0]["args"]["street"] == "742 Evergreen Terrace"  # staff see the real value
    updated = backend.get_order("default", order)
    assert updated is not None and updated.shipping_address.street == "742 Evergreen Terrace"
