"""Inbound helpdesk webhooks end to end: signed deliveries in, one internal note back on the fake helpdesk."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import Session, select

from api.audit import AuditEvent
from api.jobs.models import Job
from tests.api.channels.helpdesk import signing
from tests.api.channels.helpdesk.conftest import SECRETS, delivery, register, settled
from tests.api.channels.helpdesk.fake_helpdesk import FakeHelpdesk, Hang, Respond
from tests.api.job_handlers import wait_for

EMAIL = "dana.w@example.com"  # CUS-1001 of the demo shop


def post_zendesk(client: Any, integration_id: str, body: dict[str, Any], **signing_args: Any) -> Any:
    raw, headers = signing.zendesk(SECRETS["zendesk"]["signing_secret"], body, **signing_args)
    return client.post(f"/v1/webhooks/zendesk/{integration_id}", content=raw, headers=headers)


# --- every provider: one delivery, one private note -----------------------------------------------


def _signed(provider: str, ticket: str) -> tuple[bytes, dict[str, str], str]:
    text = "Where is my order? It has not arrived yet."
    if provider == "zendesk":
        return (
            *signing.zendesk(
                SECRETS[provider]["signing_secret"], signing.zendesk_ticket(int(ticket), text, email=EMAIL)
            ),
            ticket,
        )
    if provider == "jira":
        key = f"SUP-{ticket}"
        return (
            *signing.jira(SECRETS[provider]["webhook_secret"], signing.jira_issue(key, text, email=EMAIL)),
            key,
        )
    if provider == "freshdesk":
        return (
            *signing.freshdesk(
                SECRETS[provider]["token"], signing.freshdesk_ticket(int(ticket), text, email=EMAIL)
            ),
            ticket,
        )
    body = {"ticket_id": f"T-{ticket}", "subject": "Order", "text": text, "requester": {"email": EMAIL}}
    return (*signing.generic(SECRETS[provider]["secret"], body), f"T-{ticket}")


@pytest.mark.parametrize("provider", ["zendesk", "jira", "freshdesk", "generic"])
def test_a_signed_delivery_ends_in_one_private_note(
    provider: str, client: Any, fake: FakeHelpdesk, seeded_engine: Any
) -> None:
    integration_id = register(client, provider, fake)
    raw, headers, ticket = _signed(provider, "4711")
    answer = client.post(f"/v1/webhooks/{provider}/{integration_id}", content=raw, headers=headers)
    assert answer.status_code == 202, answer.text
    delivery_id = answer.json()["delivery_id"]
    done = settled(seeded_engine, delivery_id)
    assert done.status == "done", done.result
    assert len(fake.notes[ticket]) == 1
    note = fake.notes[ticket][0]
    assert f"[deskpilot:{delivery_id}]" in note and "Triage: queue" in note
    write = fake.writes()[-1]
    if provider == "zendesk":
        assert write.method == "PUT" and write.path == f"/api/v2/tickets/{ticket}.json"
        assert write.json["ticket"]["comment"]["public"] is False
        assert write.headers["authorization"].startswith("Basic ")
    elif provider == "freshdesk":
        assert write.path == f"/api/v2/tickets/{ticket}/notes" and write.json["private"] is True
    elif provider == "jira":
        assert (
            write.path == f"/rest/servicedeskapi/request/{ticket}/comment" and write.json["public"] is False
        )
    else:  # the callback is signed like the deliveries, and carries the structured result
        assert write.json["delivery_id"] == delivery_id and write.json["triage"]["queue"]
        assert write.headers["idempotency-key"] == delivery_id
        signed = write.headers["deskpilot-signature"]
        timestamp = signed.split(",")[0].removeprefix("t=")
        assert signed == signing.generic_sign(SECRETS["generic"]["secret"], write.raw, int(timestamp))
    # The ticket's conversation: opened by external reference and bound to the requester's customer.
    conversation = client.app.state.runtime.conversations.find(
        tenant="default", channel=provider, external_id=f"{provider}:{ticket}"
    )
    assert conversation is not None and conversation.customer_id == "CUS-1001"
    roles = [
        m.role
        for m in client.app.state.runtime.conversations.messages(
            tenant="default", conversation_id=conversation.id, restore=False
        )
    ]
    assert roles == ["customer", "assistant"]


def test_a_replayed_delivery_is_a_duplicate_and_does_nothing(
    client: Any, fake: FakeHelpdesk, seeded_engine: Any
) -> None:
    integration_id = register(client, "zendesk", fake)
    raw, headers = signing.zendesk(
        SECRETS["zendesk"]["signing_secret"], signing.zendesk_ticket(100, "Hello, where is my parcel?")
    )
    first = client.post(f"/v1/webhooks/zendesk/{integration_id}", content=raw, headers=headers)
    again = client.post(f"/v1/webhooks/zendesk/{integration_id}", content=raw, headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"duplicate": True, "delivery_id": first.json()["delivery_id"]}
    settled(seeded_engine, first.json()["delivery_id"])
    # Without an invocation id, the same timestamp and body are the same delivery too.
    raw, headers = signing.zendesk(
        SECRETS["zendesk"]["signing_secret"], signing.zendesk_ticket(101, "Another one"), invocation=None
    )
    assert (
        client.post(f"/v1/webhooks/zendesk/{integration_id}", content=raw, headers=headers).status_code == 202
    )
    replay = client.post(f"/v1/webhooks/zendesk/{integration_id}", content=raw, headers=headers)
    assert replay.json()["duplicate"] is True
    with Session(seeded_engine) as session:
        assert len(session.exec(select(Job).where(Job.kind == "helpdesk.delivery")).all()) == 2
    time.sleep(0.3)
    assert len(fake.notes["100"]) == 1


# --- refusals -------------------------------------------------------------------------------------


def test_bad_signatures_are_401_with_no_detail(client: Any, fake: FakeHelpdesk) -> None:
    integration_id = register(client, "zendesk", fake)
    url = f"/v1/webhooks/zendesk/{integration_id}"
    body = signing.zendesk_ticket(7, "hi")
    raw, headers = signing.zendesk("the-wrong-secret-0123456789", body)
    wrong = client.post(url, content=raw, headers=headers)
    raw, headers = signing.zendesk(SECRETS["zendesk"]["signing_secret"], body, at=time.time() - 301)
    stale = client.post(url, content=raw, headers=headers)
    raw, headers = signing.zendesk(SECRETS["zendesk"]["signing_secret"], body)
    tampered = client.post(url, content=raw.replace(b"hi", b"ho"), headers=headers)
    missing = client.post(url, content=raw, headers={"Content-Type": "application/json"})
    answers = [wrong, stale, tampered, missing]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1 and "signature" not in wrong.text
    assert fake.requests == []


@pytest.mark.parametrize("provider", ["jira", "freshdesk", "generic"])
def test_other_providers_refuse_a_wrong_secret(provider: str, client: Any, fake: FakeHelpdesk) -> None:
    integration_id = register(client, provider, fake)
    url = f"/v1/webhooks/{provider}/{integration_id}"
    wrong = "not-the-secret-0123456789abc"
    if provider == "jira":
        raw, headers = signing.jira(wrong, signing.jira_issue("SUP-1", "hi"))
    elif provider == "freshdesk":
        raw, headers = signing.freshdesk(wrong, signing.freshdesk_ticket(1, "hi"))
    else:
        raw, headers = signing.generic(wrong, {"ticket_id": "1", "text": "hi"})
    assert client.post(url, content=raw, headers=headers).status_code == 401
    if provider == "generic":  # and a stale timestamp
        raw, headers = signing.generic(
            SECRETS["generic"]["secret"], {"ticket_id": "1", "text": "hi"}, at=int(time.time()) - 400
        )
        assert client.post(url, content=raw, headers=headers).status_code == 401


def test_a_rotated_secret_still_verifies_during_its_grace_period_only(
    client: Any, fake: FakeHelpdesk
) -> None:
    integrations = client.app.state.runtime.integrations
    integration_id = register(client, "zendesk", fake)
    old = SECRETS["zendesk"]["signing_secret"]
    new = {"signing_secret": "zd-rotated-secret-9876543210", "api_token": "zd-api-token-2"}
    integrations.rotate(
        tenant="default", integration_id=integration_id, secrets=new, actor="key_admin", grace_hours=1
    )
    url = f"/v1/webhooks/zendesk/{integration_id}"
    for secret, ticket in ((old, 1), (new["signing_secret"], 2)):
        raw, headers = signing.zendesk(secret, signing.zendesk_ticket(ticket, "still there?"))
        assert client.post(url, content=raw, headers=headers).status_code == 202
    real_clock = integrations.clock
    integrations.clock = lambda: real_clock() + __import__("datetime").timedelta(hours=2)
    try:
        raw, headers = signing.zendesk(old, signing.zendesk_ticket(3, "after the grace period"))
        assert client.post(url, content=raw, headers=headers).status_code == 401
    finally:
        integrations.clock = real_clock


def test_unknown_integrations_and_other_tenants_look_the_same(client: Any, fake: FakeHelpdesk) -> None:
    acme = register(client, "zendesk", fake, tenant="acme")
    raw, headers = signing.zendesk(SECRETS["zendesk"]["signing_secret"], signing.zendesk_ticket(1, "hi"))
    missing = client.post("/v1/webhooks/zendesk/int_doesnotexist", content=raw, headers=headers)
    wrong_provider = client.post(f"/v1/webhooks/freshdesk/{acme}", content=raw, headers=headers)
    unknown_provider = client.post(f"/v1/webhooks/slack/{acme}", content=raw, headers=headers)
    assert {missing.status_code, wrong_provider.status_code, unknown_provider.status_code} == {404}
    assert missing.json() == wrong_provider.json() == unknown_provider.json()


def test_oversized_and_malformed_bodies(client: Any, fake: FakeHelpdesk, hd_settings: Any) -> None:
    integration_id = register(client, "zendesk", fake)
    url = f"/v1/webhooks/zendesk/{integration_id}"
    huge = signing.zendesk_ticket(1, "x" * (hd_settings.webhook_max_body_bytes + 10))
    raw, headers = signing.zendesk(SECRETS["zendesk"]["signing_secret"], huge)
    assert client.post(url, content=raw, headers=headers).status_code == 413
    secret = SECRETS["zendesk"]["signing_secret"]
    for body in ({"ticket": "nope"}, {"ticket": {"id": "../../admin", "comment": "hi"}}, {"nothing": 1}):
        raw, headers = signing.zendesk(secret, body)
        answer = client.post(url, content=raw, headers=headers)
        assert answer.status_code == 400, body
    for raw in (b"{not json", b"[1, 2]", "\u00e9".encode("latin-1")):
        raw, headers = signing.zendesk(secret, raw)
        assert client.post(url, content=raw, headers=headers).status_code == 400, raw
    assert fake.requests == []


# --- the note-back: retries, refusals, once only ----------------------------------------------------


def test_note_back_honours_429_and_retries_5xx_and_timeouts_then_posts_once(
    client: Any, fake: FakeHelpdesk, seeded_engine: Any
) -> None:
    integration_id = register(client, "zendesk", fake)
    fake.script.extend([Respond(429, retry_after=0.2), Respond(500), Hang(2.0)])
    answer = post_zendesk(client, integration_id, signing.zendesk_ticket(55, "My order never came"))
    done = settled(seeded_engine, answer.json()["delivery_id"])
    assert done.status == "done"
    writes = fake.writes()
    assert len(writes) == 4  # 429, 500, the timed-out one, then the one that took
    assert writes[1].at - writes[0].at >= 0.2  # waited for Retry-After
    assert len(fake.notes["55"]) == 1
    job = wait_for(lambda: (row := only_job(seeded_engine)).status == "done" and row)
    assert job.attempts == 4


def only_job(engine: Any) -> Job:
    with Session(engine) as session:
        return session.exec(select(Job).where(Job.kind == "helpdesk.delivery")).one()


def test_a_4xx_other_than_429_is_not_retried(client: Any, fake: FakeHelpdesk, seeded_engine: Any) -> None:
    integration_id = register(client, "freshdesk", fake)
    fake.script.append(Respond(403))
    raw, headers = signing.freshdesk(SECRETS["freshdesk"]["token"], signing.freshdesk_ticket(9, "hello?"))
    answer = client.post(f"/v1/webhooks/freshdesk/{integration_id}", content=raw, headers=headers)
    failed = settled(seeded_engine, answer.json()["delivery_id"])
    assert failed.status == "failed" and failed.result["error"] == "helpdesk answered 403"
    time.sleep(0.3)
    assert len(fake.writes()) == 1
    job = wait_for(lambda: (row := only_job(seeded_engine)).status == "dead" and row)
    assert job.attempts == 1


def test_a_newer_customer_message_drops_the_older_draft(
    client: Any, fake: FakeHelpdesk, seeded_engine: Any
) -> None:
    integration_id = register(client, "zendesk", fake)
    runtime = client.app.state.runtime
    original = runtime.conversations.send
    second_arrived: dict[str, Any] = {}

    async def slow_first_send(**turn: Any) -> Any:
        if not second_arrived:  # the first draft is being made when the second message comes in
            second_arrived["answer"] = await _post_async(client, integration_id)
        return await original(**turn)

    runtime.conversations.send = slow_first_send
    try:
        first = post_zendesk(client, integration_id, signing.zendesk_ticket(77, "Where is my order?"))
        first_done = settled(seeded_engine, first.json()["delivery_id"])
        second_id = wait_for_key(second_arrived, "answer").json()["delivery_id"]
        second_done = settled(seeded_engine, second_id)
    finally:
        runtime.conversations.send = original
    assert first_done.status == "dropped" and second_done.status == "done"
    assert len(fake.notes["77"]) == 1 and f"[deskpilot:{second_id}]" in fake.notes["77"][0]


async def _post_async(client: Any, integration_id: str) -> Any:
    import httpx

    raw, headers = signing.zendesk(
        SECRETS["zendesk"]["signing_secret"], signing.zendesk_ticket(77, "Actually it is the blue tent order")
    )
    transport = httpx.ASGITransport(app=client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post(f"/v1/webhooks/zendesk/{integration_id}", content=raw, headers=headers)


def wait_for_key(holder: dict[str, Any], key: str) -> Any:
    return wait_for(lambda: holder.get(key))


def test_the_requester_email_never_reaches_the_audit_log_or_the_job(
    hd_settings: Any, seeded_engine: Any, redactor: Any, fake: FakeHelpdesk
) -> None:
    from tests.conftest import make_client

    with make_client(hd_settings, seeded_engine, redactor=redactor) as client:
        integration_id = register(client, "zendesk", fake)
        body = signing.zendesk_ticket(
            88,
            f"Hi, this is Dana Whitfield ({EMAIL}), where is my order?",
            email=EMAIL,
            name="Dana Whitfield",
        )
        answer = post_zendesk(client, integration_id, body)
        done = settled(seeded_engine, answer.json()["delivery_id"])
    assert done.status == "done"
    with Session(seeded_engine) as session:
        events = session.exec(select(AuditEvent)).all()
        jobs = session.exec(select(Job)).all()
    assert any(e.type == "helpdesk.note_posted" for e in events)
    for event in events:
        assert EMAIL not in str(event.payload), event.type
    for job in jobs:
        assert EMAIL not in str(job.payload)
    assert EMAIL not in str(delivery(seeded_engine, done.id).result)


def test_a_rerun_after_the_turn_does_not_send_the_customer_message_twice(
    client: Any, fake: FakeHelpdesk, seeded_engine: Any
) -> None:
    integration_id = register(client, "zendesk", fake)
    runtime = client.app.state.runtime
    original = runtime.triage.classify
    calls: list[int] = []

    async def fail_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the attempt dies after its turn, before anything is recorded on the delivery
            raise RuntimeError("worker lost")
        return await original(*args, **kwargs)

    runtime.triage.classify = fail_once
    try:
        answer = post_zendesk(client, integration_id, signing.zendesk_ticket(66, "Where is my order?"))
        done = settled(seeded_engine, answer.json()["delivery_id"])
    finally:
        runtime.triage.classify = original
    assert done.status == "done" and len(calls) == 2
    conversation = runtime.conversations.find(tenant="default", channel="zendesk", external_id="zendesk:66")
    roles = [
        m.role
        for m in runtime.conversations.messages(
            tenant="default", conversation_id=conversation.id, restore=False
        )
    ]
    assert roles == ["customer", "assistant"]  # one turn, found again by the re-run
    assert len(fake.notes["66"]) == 1 and done.result["message_id"] is not None


def test_a_refund_request_is_noted_as_a_pending_approval_with_a_link_and_priority_set(
    client: Any, fake: FakeHelpdesk, seeded_engine: Any
) -> None:
    from tests.api.test_approvals import refundable_order

    order = refundable_order(seeded_engine)
    integration_id = register(client, "zendesk", fake, set_priority=True)
    answer = post_zendesk(
        client,
        integration_id,
        signing.zendesk_ticket(90, f"I want a refund for {order}, it arrived broken", email=EMAIL),
    )
    done = settled(seeded_engine, answer.json()["delivery_id"])
    assert done.status == "done"
    (approval,) = done.result["pending_approvals"]
    note = fake.notes["90"][0]
    assert (
        f"http://127.0.0.1:8000/v1/approvals/{approval['id']}" in note
        and "Waiting for staff approval" in note
    )
    runtime = client.app.state.runtime
    assert (
        runtime.approvals.get(tenant="default", approval_id=approval["id"]).status == "pending"
    )  # not executed
    assert fake.writes()[-1].json["ticket"]["priority"] == done.result["triage"]["priority"]


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("jira", signing.jira_comment("SUP-5", "internal: check the warehouse", public=False)),
        (
            "jira",
            signing.jira_comment("SUP-5", "We are on it", email="agent@acme.example"),
        ),  # our own account
        ("jira", {"webhookEvent": "jira:issue_updated", "issue": {"key": "SUP-5", "fields": {}}}),
        ("zendesk", signing.zendesk_ticket(5, "Deskpilot suggested reply ... [deskpilot:dlv_0123abcd]")),
    ],
)
def test_events_with_nothing_to_draft_are_ignored(
    provider: str, body: dict[str, Any], client: Any, fake: FakeHelpdesk, seeded_engine: Any
) -> None:
    integration_id = register(client, provider, fake)
    if provider == "jira":
        raw, headers = signing.jira(SECRETS["jira"]["webhook_secret"], body)
    else:
        raw, headers = signing.zendesk(SECRETS["zendesk"]["signing_secret"], body)
    answer = client.post(f"/v1/webhooks/{provider}/{integration_id}", content=raw, headers=headers)
    assert (answer.status_code, answer.json()) == (200, {"ignored": True})
    with Session(seeded_engine) as session:
        assert session.exec(select(Job)).all() == []


def test_a_jira_customer_comment_is_drafted(client: Any, fake: FakeHelpdesk, seeded_engine: Any) -> None:
    integration_id = register(client, "jira", fake)
    raw, headers = signing.jira(
        SECRETS["jira"]["webhook_secret"], signing.jira_comment("SUP-6", "Any news on my order?")
    )
    answer = client.post(f"/v1/webhooks/jira/{integration_id}", content=raw, headers=headers)
    assert settled(seeded_engine, answer.json()["delivery_id"]).status == "done"
    assert len(fake.notes["SUP-6"]) == 1
    again = client.post(f"/v1/webhooks/jira/{integration_id}", content=raw, headers=headers)
    assert again.json()["duplicate"] is True  # the same X-Atlassian-Webhook-Identifier


def test_a_webhook_spares_the_tenants_staff_names_like_the_api(
    hd_settings: Any, seeded_engine: Any, redactor: Any, fake: FakeHelpdesk
) -> None:
    """Redaction at the webhook goes through the conversation service, with the tenant's staff names."""
    from tests.conftest import bearer, make_client

    admin = bearer(seeded_engine, "default", ("admin",))
    with make_client(hd_settings, seeded_engine, redactor=redactor) as client:
        put = client.put("/v1/tenant/settings", json={"staff_names": ["Anna Lee"]}, headers=admin)
        assert put.status_code == 200, put.text
        integration_id = register(client, "zendesk", fake)
        body = signing.zendesk_ticket(
            89, "Anna Lee promised a refund; my neighbour Dana Whitfield saw the parcel.", email=EMAIL
        )
        answer = post_zendesk(client, integration_id, body)
        done = settled(seeded_engine, answer.json()["delivery_id"])
    with Session(seeded_engine) as session:
        queued = [str(job.payload) for job in session.exec(select(Job)).all()]
    assert any("Anna Lee" in payload for payload in queued), queued
    assert not any("Dana Whitfield" in payload for payload in queued)
    assert done.status == "done"
