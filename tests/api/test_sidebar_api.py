"""The endpoints behind the sidebar, through the API: who am I, the queue, the audited reveal, writing aids
(offline and through the local OpenAI-compatible server), passages with internal marking, refunds, and the
page's headers and files."""

from __future__ import annotations

from typing import Any

import pytest

from api.sidebar.passages import is_internal
from api.sidebar.writing import rewrite_offline
from tests.api.test_approvals import refundable_order, request_refund
from tests.conftest import bearer, make_client, online
from tests.support.openai_items import Reply


@pytest.fixture
def client(settings: Any, seeded_engine: Any) -> Any:
    with make_client(settings, seeded_engine) as client:
        yield client


@pytest.fixture
def agent(seeded_engine: Any) -> dict[str, str]:
    return bearer(seeded_engine, "default", ("agent",))


def test_me_names_the_tenant_and_scopes_of_the_key(client: Any, seeded_engine: Any) -> None:
    me = client.get("/v1/me", headers=bearer(seeded_engine, "acme", ("approve", "agent"))).json()
    assert me["tenant"] == "acme" and me["scopes"] == ["agent", "approve"] and me["can_reveal"] is True
    assert (
        client.get("/v1/me", headers=bearer(seeded_engine, "default", ("agent",))).json()["can_reveal"]
        is False
    )
    assert client.get("/v1/me").status_code == 401


def test_the_queue_puts_pending_approvals_first_then_handoffs_then_the_newest(
    client: Any, agent: dict[str, str], seeded_engine: Any, settings: Any
) -> None:
    from sqlmodel import Session

    from api.models import Conversation

    quiet = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent).json()["id"]
    client.post(f"/v1/conversations/{quiet}/messages", json={"content": "Hello there"}, headers=agent)
    waiting, _ = request_refund(client, agent, refundable_order(seeded_engine))
    handed = client.post("/v1/conversations", json={}, headers=agent).json()["id"]
    with Session(seeded_engine) as session:  # a handoff, as the escalation tool leaves it
        row = session.get(Conversation, handed)
        assert row is not None
        row.status, row.handoff_reason = "needs_human", "customer asked for a person"
        session.add(row)
        session.commit()
    newest = client.post(
        "/v1/conversations", json={"external_id": "T-9", "channel": "zendesk"}, headers=agent
    )
    newest_id = newest.json()["id"]

    items = client.get("/v1/conversations", headers=agent).json()
    assert [i["id"] for i in items] == [waiting, handed, newest_id, quiet]
    assert items[0]["pending_approvals"] == 1 and items[0]["needs_human"] is True
    assert items[0]["last_customer_message_id"] is not None and items[0]["last_role"] == "assistant"
    assert items[1]["handoff_reason"] == "customer asked for a person"
    needing = client.get("/v1/conversations", params={"needs_human": True}, headers=agent).json()
    assert [i["id"] for i in needing] == [waiting, handed]
    by_ticket = client.get(
        "/v1/conversations", params={"channel": "zendesk", "external_id": "T-9"}, headers=agent
    ).json()
    assert [i["id"] for i in by_ticket] == [newest_id]
    # Another tenant sees none of them.
    assert client.get("/v1/conversations", headers=bearer(seeded_engine, "acme", ("agent",))).json() == []


def test_queue_previews_keep_placeholders(settings: Any, seeded_engine: Any, redactor: Any) -> None:
    agent = bearer(seeded_engine, "default", ("agent",))
    with make_client(settings, seeded_engine, redactor=redactor) as client:
        conversation = client.post("/v1/conversations", json={}, headers=agent).json()["id"]
        client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"content": "I'm Dana Whitfield, dana.whitfield@example.com"},
            headers=agent,
        )
        preview = client.get("/v1/conversations", headers=agent).json()[0]["preview"]
    assert "Dana" not in preview and "dana.whitfield@" not in preview


def test_reveal_needs_approve_or_admin_and_is_audited(
    settings: Any, seeded_engine: Any, redactor: Any
) -> None:
    agent = bearer(seeded_engine, "default", ("agent",))
    approver = bearer(seeded_engine, "default", ("approve",))
    admin = bearer(seeded_engine, "default", ("admin",))
    with make_client(settings, seeded_engine, redactor=redactor) as client:
        conversation = client.post("/v1/conversations", json={}, headers=agent).json()["id"]
        client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"content": "My name is Dana Whitfield."},
            headers=agent,
        )
        masked = client.get(f"/v1/conversations/{conversation}?redacted=true", headers=agent).json()
        assert "Dana" not in masked["messages"][0]["content"]
        assert client.post(f"/v1/conversations/{conversation}/reveal", headers=agent).status_code == 403
        for key in (approver, admin):
            shown = client.post(f"/v1/conversations/{conversation}/reveal", headers=key)
            assert shown.status_code == 200 and "Dana Whitfield" in shown.json()["messages"][0]["content"]
        other = bearer(seeded_engine, "acme", ("admin",))
        assert client.post(f"/v1/conversations/{conversation}/reveal", headers=other).status_code == 404
        events = client.get(
            "/v1/audit", params={"conversation_id": conversation, "type": "pii.revealed"}, headers=admin
        ).json()
    assert len(events) == 2 and {e["payload"]["channel"] for e in events} == {"sidebar"}
    assert "Dana" not in str(events)


def test_rewrite_and_summary_offline_are_deterministic_and_labelled_degraded(
    client: Any, agent: dict[str, str]
) -> None:
    conversation = client.post("/v1/conversations", json={}, headers=agent).json()["id"]
    client.post(
        f"/v1/conversations/{conversation}/messages", json={"content": "Where is my parcel?"}, headers=agent
    )
    text = "Hi! It's on its way and we can't change the address. You'll get it Friday [1]. Thanks."
    for style in ("shorter", "friendlier", "formal"):
        out = client.post(
            f"/v1/conversations/{conversation}/rewrite", json={"text": text, "style": style}, headers=agent
        ).json()
        assert out == {"text": rewrite_offline(text, style), "model": "deskpilot-offline", "degraded": True}
    assert (
        client.post(
            f"/v1/conversations/{conversation}/rewrite",
            json={"text": text, "style": "angrier"},
            headers=agent,
        ).status_code
        == 422
    )
    summary = client.post(f"/v1/conversations/{conversation}/summary", headers=agent).json()
    assert summary["degraded"] is True and "Where is my parcel?" in summary["text"]


@pytest.mark.parametrize(
    ("text", "style", "expected"),
    [
        ("One. Two [1]. Three. Four.", "shorter", "One. Two [1]."),
        ("Only one sentence.", "shorter", "Only one sentence."),
        (
            "Hi Dana, we can't do that! It's final.",
            "formal",
            "Hello Dana, we cannot do that. It is final.\n\nKind regards.",
        ),
        (
            "Hello! Your refund is on its way.",
            "friendlier",
            "Hi there, thank you for reaching out! Your refund is on its way. Anything else, just ask.",
        ),
    ],
)
def test_offline_rewrites(text: str, style: Any, expected: str) -> None:
    assert rewrite_offline(text, style) == expected


def test_rewrite_online_sends_the_redacted_draft_and_restores_the_answer(
    settings: Any, seeded_engine: Any, redactor: Any, openai_stub: Any
) -> None:
    agent = bearer(seeded_engine, "default", ("agent",))
    app_settings = online(settings, openai_stub)
    with make_client(app_settings, seeded_engine, redactor=redactor) as client:
        conversation = client.post("/v1/conversations", json={}, headers=agent).json()["id"]
        openai_stub.enqueue(Reply("Hello <PERSON_1>, your refund is on its way."))
        out = client.post(
            f"/v1/conversations/{conversation}/rewrite",
            json={"text": "hey Dana Whitfield!! refund coming", "style": "formal"},
            headers=agent,
        ).json()
    assert out["degraded"] is False and out["model"] == app_settings.model
    assert out["text"] == "Hello Dana Whitfield, your refund is on its way."
    sent = openai_stub.chat_requests[-1].raw.decode()
    assert "Dana" not in sent and "<PERSON_1>" in sent and "more formal" in sent


def test_rewrites_and_summaries_are_counted_in_usage(
    settings: Any, seeded_engine: Any, openai_stub: Any
) -> None:
    """Writing aids call the model outside a turn; their tokens are billed, so /v1/usage counts them."""
    agent = bearer(seeded_engine, "default", ("agent",))
    admin = bearer(seeded_engine, "default", ("admin",))
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        conversation = client.post("/v1/conversations", json={}, headers=agent).json()["id"]

        def calls() -> tuple[int, int]:
            groups = client.get("/v1/usage", params={"group_by": "conversation"}, headers=admin).json()[
                "groups"
            ]
            mine = [g for g in groups if g["conversation"] == conversation]
            return (mine[0]["model_calls"], mine[0]["input_tokens"]) if mine else (0, 0)

        assert calls() == (0, 0)
        openai_stub.enqueue(Reply("Your refund is on its way."))
        rewrite = client.post(
            f"/v1/conversations/{conversation}/rewrite",
            json={"text": "refund coming!!", "style": "formal"},
            headers=agent,
        )
        assert rewrite.status_code == 200 and rewrite.json()["degraded"] is False, rewrite.text
        after_rewrite = calls()
        assert after_rewrite[0] == 1 and after_rewrite[1] > 0
        openai_stub.enqueue(Reply("- Customer waits for a refund."))
        assert client.post(f"/v1/conversations/{conversation}/summary", headers=agent).status_code == 200
        assert calls()[0] == 2


@pytest.mark.parametrize(
    ("source", "internal"),
    [
        ("internal:refund-exceptions", True),
        ("internal/tent-returns.md", True),
        ("help-centre/Internal/tent-returns.md", True),
        ("https://wiki.example/internal/playbook", True),
        ("https://internal.example/help/returns", False),  # the host is not the path
        ("help-centre/internal.md", False),
        ("https://help.example/returns", False),
        ("upload://returns.md", False),
    ],
)
def test_internal_sources(source: str, internal: bool) -> None:
    assert is_internal(source) is internal


def test_a_passage_is_read_from_the_callers_tenant_only(
    settings: Any, seeded_engine: Any, demo_knowledge: Any
) -> None:
    agent = bearer(seeded_engine, "default", ("agent",))
    with make_client(settings, seeded_engine, knowledge=demo_knowledge) as client:
        hit = client.get("/v1/knowledge/search", params={"q": "return a tent"}, headers=agent).json()[
            "passages"
        ][0]
        passage = client.get(f"/v1/knowledge/passages/{hit['chunk_id']}", headers=agent).json()
        assert passage["text"] == hit["text"] and passage["title"] == hit["title"]
        assert passage["internal"] is False
        acme = bearer(seeded_engine, "acme", ("agent",))
        assert client.get(f"/v1/knowledge/passages/{hit['chunk_id']}", headers=acme).status_code == 404
        assert client.get("/v1/knowledge/passages/nope", headers=agent).status_code == 404


def test_refunds_of_a_customer(client: Any, agent: dict[str, str]) -> None:
    refunds = client.get("/v1/customers/CUS-1001/refunds", headers=agent).json()
    assert all(r["order_number"].startswith("ORD-") and r["refund_id"] for r in refunds)
    assert [r["created_at"] for r in refunds] == sorted((r["created_at"] for r in refunds), reverse=True)
    assert client.get("/v1/customers/CUS-404/refunds", headers=agent).status_code == 404


def test_the_page_and_its_files(settings: Any, seeded_engine: Any) -> None:
    framed = settings.model_copy(update={"sidebar_frame_ancestors": "'self' https://acme.zendesk.com"})
    with make_client(framed, seeded_engine) as client:
        page = client.get("/sidebar")
        assert "frame-ancestors 'self' https://acme.zendesk.com" in page.headers["content-security-policy"]
        assert 'content="&#x27;self&#x27; https://acme.zendesk.com"' in page.text
        assert page.headers["cache-control"] == "no-store"
        for name in ("app.js", "api.js", "dom.js", "sidebar.css", "views/draft.js", "views/queue.js"):
            assert client.get(f"/sidebar/{name}").status_code == 200, name
        for name in ("index.html", "../page.py", "nope.js", "%2e%2e/page.py", "views/x/y.js"):
            assert client.get(f"/sidebar/{name}").status_code == 404, name
        docs = client.get("/docs").text + client.get("/redoc").text
        assert "cdn.jsdelivr" not in docs and "fonts.googleapis" not in docs and "/docs-assets/" in docs
        assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_a_frame_ancestors_setting_cannot_inject_policy() -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    with pytest.raises(ValidationError):
        Settings(_env_file=None, sidebar_frame_ancestors="'self'; script-src *")  # type: ignore[call-arg]
