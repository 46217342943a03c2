"""The channel-ready core: external references, who wrote what, drafts, feedback, tenant settings,
approval expiry and the store seam, through the API and the one conversation service."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.audit import AuditLog
from api.models import Approval, Feedback
from tests.api.test_approvals import refundable_order, request_refund
from tests.api.test_postgres import pg_engine, pg_url  # noqa: F401  (fixtures)
from tests.conftest import TODAY, bearer, make_client, online
from tests.support import Reply
from tools.backends.sql import SqlStoreBackend


@pytest.fixture
def client(settings: Any, seeded_engine: Any) -> Any:
    with make_client(settings, seeded_engine) as client:
        yield client


@pytest.fixture
def staff(seeded_engine: Any) -> dict[str, str]:
    return bearer(seeded_engine, "default", ("agent", "admin", "approve"))


def audit_types(engine: Any, conversation_id: str) -> list[str]:
    events = AuditLog(engine).list(tenant="default", conversation_id=conversation_id, limit=200)
    return [e.type for e in reversed(events)]


# --- external references --------------------------------------------------------------------------------


def test_the_same_external_reference_finds_the_same_conversation(client: Any, staff: dict[str, str]) -> None:
    body = {"channel": "zendesk", "external_id": "zendesk:4711", "customer_id": "CUS-1001"}
    first = client.post("/v1/conversations", json=body, headers=staff)
    again = client.post("/v1/conversations", json=body, headers=staff)
    assert first.status_code == 201 and first.json()["created"] is True
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    other_channel = client.post("/v1/conversations", json={**body, "channel": "jira"}, headers=staff)
    assert other_channel.status_code == 201 and other_channel.json()["id"] != first.json()["id"]
    other_tenant = bearer(client.app.state.runtime.engine, "acme", ("agent",))
    theirs = client.post("/v1/conversations", json=body, headers=other_tenant)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


def _open_concurrently(service: Any, n: int = 12) -> set[str]:
    def open_one(_: int) -> str:
        conversation, _created = service.open(
            tenant="default", channel="slack", external_id="T1:1700000000.1"
        )
        return conversation.id

    with ThreadPoolExecutor(max_workers=n) as pool:
        return set(pool.map(open_one, range(n)))


def test_concurrent_deliveries_open_one_conversation_on_sqlite(client: Any) -> None:
    assert len(_open_concurrently(client.app.state.runtime.conversations)) == 1


def test_concurrent_deliveries_open_one_conversation_on_postgres(
    settings: Any,
    pg_engine: Any,  # noqa: F811
    pg_url: str,  # noqa: F811
) -> None:
    from tools.demo_data import seed_demo

    seed_demo(pg_engine, tenant="default", today=TODAY)
    with make_client(settings.model_copy(update={"database_url": pg_url}), pg_engine) as pg_client:
        ids = _open_concurrently(pg_client.app.state.runtime.conversations)
    assert len(ids) == 1


# --- who wrote what -------------------------------------------------------------------------------------


def test_staff_replies_and_notes_are_told_apart_in_history_and_for_the_model(
    settings: Any, seeded_engine: Any, openai_stub: Any, staff: dict[str, str]
) -> None:
    openai_stub.default = Reply("Noted, thanks.")
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=staff
        ).json()
        url = f"/v1/conversations/{conversation['id']}"
        assert (
            client.post(f"{url}/messages", json={"content": "My parcel is late."}, headers=staff).status_code
            == 200
        )
        reply = client.post(
            f"{url}/staff-messages",
            json={"content": "I've chased the courier for you.", "kind": "staff"},
            headers=staff,
        )
        note = client.post(
            f"{url}/staff-messages",
            json={"content": "Courier confirmed loss; offer a refund.", "kind": "note"},
            headers=staff,
        )
        assert reply.status_code == 201 and note.status_code == 201
        assert client.post(f"{url}/messages", json={"content": "Any news?"}, headers=staff).status_code == 200
        history = client.get(url, headers=staff).json()["messages"]

    assert [m["role"] for m in history] == ["customer", "assistant", "staff", "note", "customer", "assistant"]
    assert history[2]["author"] and history[3]["author"]
    sent = openai_stub.chat_requests[-1].json["messages"]
    staff_sent = [m for m in sent if m.get("name") == "staff_reply"]
    notes_sent = [m for m in sent if m.get("name") == "internal_note"]
    assert len(staff_sent) == 1 and "chased the courier" in staff_sent[0]["content"]
    assert len(notes_sent) == 1 and notes_sent[0]["content"].startswith("<internal_note>")
    # The customer's own words carry no name; staff text is never sent as one of them.
    customer_sent = [m["content"] for m in sent if m["role"] == "user" and not m.get("name")]
    assert customer_sent == ["My parcel is late.", "Any news?"]


def test_a_staff_draft_suggests_and_never_acts(
    client: Any, staff: dict[str, str], seeded_engine: Any
) -> None:
    order = refundable_order(seeded_engine)
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=staff).json()[
        "id"
    ]
    # The customer's message arrives, then staff ask for a draft of the next reply.
    sent = client.post(
        f"/v1/conversations/{conversation}/messages", json={"content": f"Where is {order}?"}, headers=staff
    )
    assert sent.status_code == 200
    draft = client.post(f"/v1/conversations/{conversation}/draft", headers=staff)
    assert draft.status_code == 200, draft.text
    body = draft.json()
    assert body["draft"] is True and body["message_id"] and body["turn_id"]
    assert all(call["status"] != "pending_approval" for call in body["tool_calls"])
    history = client.get(f"/v1/conversations/{conversation}", headers=staff).json()
    assert history["messages"][-1]["meta"]["draft"] is True
    assert [t["kind"] for t in history["turns"]] == ["draft", "reply"]
    assert "draft.suggested" in audit_types(seeded_engine, conversation)


# --- feedback -------------------------------------------------------------------------------------------


def test_feedback_is_stored_with_the_reply_and_audited(
    client: Any, staff: dict[str, str], seeded_engine: Any
) -> None:
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=staff).json()[
        "id"
    ]
    turn = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": "How long do refunds take?"},
        headers=staff,
    ).json()
    given = client.post(
        "/v1/feedback",
        json={
            "conversation_id": conversation,
            "message_id": turn["message_id"],
            "rating": "down",
            "reason": "Too vague, call me on 415-555-0143",
        },
        headers=staff,
    )
    assert given.status_code == 201, given.text
    with Session(seeded_engine) as session:
        row = session.exec(select(Feedback)).one()
    assert row.message_id == turn["message_id"] and row.rating == "down"
    events = AuditLog(seeded_engine).list(tenant="default", conversation_id=conversation, limit=50)
    recorded = next(e for e in events if e.type == "feedback.recorded")
    assert recorded.payload["rating"] == "down"
    missing = client.post(
        "/v1/feedback",
        json={"conversation_id": conversation, "message_id": 999_999, "rating": "up"},
        headers=staff,
    )
    assert missing.status_code == 404
    acme = bearer(seeded_engine, "acme", ("agent",))
    theirs = client.post("/v1/feedback", json={"conversation_id": conversation, "rating": "up"}, headers=acme)
    assert theirs.status_code == 404
    bad = client.post("/v1/feedback", json={"conversation_id": conversation, "rating": "meh"}, headers=staff)
    assert bad.status_code == 422


# --- tenant settings ------------------------------------------------------------------------------------


def test_tenant_settings_change_the_refund_decision(
    client: Any, staff: dict[str, str], seeded_engine: Any
) -> None:
    order = refundable_order(seeded_engine)
    assert client.get("/v1/tenant/settings", headers=staff).json()["max_refund_amount"] == 500.0
    _, before = request_refund(client, staff, order)
    assert before["pending_approval"]

    changed = client.put("/v1/tenant/settings", json={"max_refund_amount": 1}, headers=staff)
    assert changed.status_code == 200 and changed.json()["max_refund_amount"] == 1
    assert changed.json()["refund_window_days"] == 30  # untouched fields keep their values
    _, after = request_refund(client, staff, order)
    assert after["pending_approval"] is None
    refused = next(c for c in after["tool_calls"] if c["name"] == "issue_refund")
    assert refused["status"] == "error" and "limit" in refused["result"]["message"]

    assert (
        client.put(
            "/v1/tenant/settings", json={"max_refund_amount": 500, "max_refunds_per_day": 0}, headers=staff
        ).status_code
        == 200
    )
    _, capped = request_refund(client, staff, order)
    daily = next(c for c in capped["tool_calls"] if c["name"] == "issue_refund")
    assert daily["status"] == "error" and "refunds today" in daily["result"]["message"]

    # The other tenant's shop is untouched.
    acme_admin = bearer(seeded_engine, "acme", ("admin",))
    assert client.get("/v1/tenant/settings", headers=acme_admin).json()["max_refund_amount"] == 500.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"refund_window_days": -1}, "refund_window_days"),
        ({"max_refund_amount": "lots"}, "max_refund_amount"),
        ({"reply_tone": "sarcastic"}, "reply_tone"),
        ({"approval_expiry_hours": 0}, "approval_expiry_hours"),
        ({"brand_name": ""}, "brand_name"),
        ({"unknown_knob": 1}, "unknown_knob"),
    ],
)
def test_bad_tenant_settings_are_a_422_naming_the_field(
    client: Any, staff: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = client.put("/v1/tenant/settings", json=body, headers=staff)
    assert response.status_code == 422
    assert field in response.json()["error"]["message"]
    assert client.get("/v1/tenant/settings", headers=staff).json()["refund_window_days"] == 30


def test_tenant_settings_need_an_admin_key(client: Any, seeded_engine: Any) -> None:
    agent = bearer(seeded_engine, "default", ("agent",))
    assert client.get("/v1/tenant/settings", headers=agent).status_code == 403
    assert client.put("/v1/tenant/settings", json={"refund_window_days": 5}, headers=agent).status_code == 403


def test_tenant_cli_shows_and_sets(settings: Any, seeded_engine: Any, monkeypatch: Any) -> None:
    from api import settings as settings_module
    from api.cli import app

    monkeypatch.setenv("DESKPILOT_HOME", str(settings.home))
    settings_module.get_settings.cache_clear()
    try:
        runner = CliRunner()
        shown = runner.invoke(app, ["tenant", "show", "--tenant", "acme"])
        assert shown.exit_code == 0 and json.loads(shown.stdout)["refund_window_days"] == 30
        changed = runner.invoke(
            app, ["tenant", "set", "--tenant", "acme", "refund_window_days=45", "brand_name=Acme"]
        )
        assert changed.exit_code == 0, changed.stdout
        assert (
            json.loads(runner.invoke(app, ["tenant", "show", "--tenant", "acme"]).stdout)["brand_name"]
            == "Acme"
        )
        bad = runner.invoke(app, ["tenant", "set", "--tenant", "acme", "refund_window_days=soon"])
        assert bad.exit_code == 2 and "refund_window_days" in bad.stderr
    finally:
        settings_module.get_settings.cache_clear()


# --- approval expiry ------------------------------------------------------------------------------------


def test_a_pending_approval_expires_and_the_customer_is_told(
    client: Any, staff: dict[str, str], seeded_engine: Any
) -> None:
    from api.maintenance import sweep

    order = refundable_order(seeded_engine)
    assert (
        client.put("/v1/tenant/settings", json={"approval_expiry_hours": 0.0002}, headers=staff).status_code
        == 200
    )
    conversation, turn = request_refund(client, staff, order)
    approval_id = turn["pending_approval"]
    with Session(seeded_engine) as session:
        expires = session.get(Approval, approval_id).expires_at  # type: ignore[union-attr]
    assert expires is not None
    time.sleep(1.0)  # 0.0002 h = 0.72 s

    runtime = client.app.state.runtime
    client.portal.call(sweep, runtime)  # the maintenance sweep, run once in the app's event loop
    client.portal.call(sweep, runtime)  # a second sweep (or another process) changes nothing
    assert client.get(f"/v1/approvals/{approval_id}", headers=staff).json()["status"] == "expired"
    types = audit_types(seeded_engine, conversation)
    assert types.count("approval.expired") == 1
    history = client.get(f"/v1/conversations/{conversation}", headers=staff).json()["messages"]
    assert history[-1]["role"] == "assistant" and "expired" in history[-1]["content"].lower()
    late = client.post(f"/v1/approvals/{approval_id}", json={"decision": "approve"}, headers=staff)
    assert late.status_code == 409 and late.json()["error"]["details"]["status"] == "expired"
    assert len(SqlStoreBackend(seeded_engine).get_order("default", order).refunds) == 0  # type: ignore[union-attr]


# --- the store seam -------------------------------------------------------------------------------------


class RecordingBackend(SqlStoreBackend):
    """A store named in settings: the runtime builds it through the factory, no edit of the runtime."""


def make_backend(*, engine: Any, settings: Any) -> RecordingBackend:
    return RecordingBackend(engine)


def not_a_backend(**_: Any) -> object:
    return object()


def test_the_store_backend_comes_from_settings(settings: Any, seeded_engine: Any) -> None:
    custom = settings.model_copy(update={"store_backend": "tests.api.test_conversation_core:make_backend"})
    with make_client(custom, seeded_engine) as client:
        assert isinstance(client.app.state.runtime.backend, RecordingBackend)
        assert isinstance(client.app.state.runtime.agent.services.backend, RecordingBackend)


def test_a_store_backend_that_is_not_one_is_refused(settings: Any, seeded_engine: Any) -> None:
    from tools.backends import build_backend

    with pytest.raises(TypeError):
        build_backend(
            "tests.api.test_conversation_core:not_a_backend", engine=seeded_engine, settings=settings
        )
    with pytest.raises(ValueError):
        build_backend("nonsense", engine=seeded_engine, settings=settings)
