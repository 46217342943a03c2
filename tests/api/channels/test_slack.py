"""The Slack app end to end: the real bolt app behind the real route, signed requests, a fake Web API."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlmodel import Session, select

from api.channels.slack import blocks
from api.channels.slack.jobs import run_thread_turn
from api.deliveries import Delivery
from api.jobs import Job, JobContext
from api.models import Approval, AuditEvent, Conversation, Feedback, Turn, utcnow
from tests.api.test_approvals import refundable_order, refunds_of
from tests.api.test_postgres import pg_engine, pg_url  # noqa: F401  (fixtures)
from tests.conftest import TODAY, bearer, make_client
from tests.support.slack_server import BOT_ID, BOT_USER_ID, TEAM_ID, FakeSlack
from tools.backends.sql import SqlStoreBackend
from tools.demo_data import seed_demo

APPROVER, OTHER_APPROVER, STRANGER, STAFF = "U0APPROVE1", "U0APPROVE2", "U0STRANGER", "U0STAFF001"
CHANNEL_ID, ALERTS = "C0SUPPORT1", "C0ALERTS01"
T = TypeVar("T")


def wait_count(items: Callable[[], list[dict[str, Any]]], n: int) -> list[dict[str, Any]]:
    wait_for(lambda: len(items()) >= n)
    return items()


def wait_for(check: Callable[[], T], timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# --- requests as Slack sends them ------------------------------------------------------------------------


def signed(body: str, secret: str, *, timestamp: int | None = None, **extra: str) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json" if body.startswith("{") else "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)),
        **extra,
    }


def new_ts() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"


def mention(text: str, *, ts: str | None = None, thread_ts: str | None = None, user: str = STAFF) -> str:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts or new_ts(),
        "channel": CHANNEL_ID,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return json.dumps(
        {
            "token": "unused",
            "team_id": TEAM_ID,
            "api_app_id": "A0DESKPILOT",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )


def click(action_id: str, value: str, *, user: str, message: dict[str, Any]) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "shop"},
        "user": {"id": user, "team_id": TEAM_ID},
        "api_app_id": "A0DESKPILOT",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": message["channel"]},
        "trigger_id": f"{uuid.uuid4().int % 10**12}.trigger",
        "channel": {"id": message["channel"]},
        "message": {"ts": message["ts"], "thread_ts": message.get("thread_ts"), "text": message.get("text")},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": f"{time.time():.6f}{uuid.uuid4().int % 1000:03d}",
            }
        ],
    }
    return "payload=" + quote(json.dumps(payload))


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def slack_server() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def slack(slack_server: FakeSlack) -> Iterator[FakeSlack]:
    slack_server.reset()
    yield slack_server
    slack_server.reset()


@pytest.fixture
def slack_settings(settings: Any) -> Any:
    return settings.model_copy(update={"job_poll_s": 0.1, "slack_alerts_poll_s": 0.2})


@pytest.fixture
def client(slack_settings: Any, seeded_engine: Any, redactor: Any) -> Iterator[Any]:
    with make_client(slack_settings, seeded_engine, redactor=redactor) as client:
        yield client


class Workspace:
    """One registered Slack integration and the requests its Slack workspace would send."""

    def __init__(self, client: Any, engine: Any, slack: FakeSlack, **config: Any) -> None:
        self.client, self.engine, self.slack = client, engine, slack
        self.secret = "sign-" + uuid.uuid4().hex
        self.admin = bearer(engine, config.pop("tenant", "default"), ("admin", "agent", "approve"))
        body = {
            "provider": "slack",
            "config": {"api_base_url": slack.base_url, "approver_user_ids": [APPROVER, OTHER_APPROVER]}
            | config,
            "secrets": {"signing_secret": self.secret, "bot_token": "xoxb-" + uuid.uuid4().hex},
        }
        created = client.post("/v1/integrations", json=body, headers=self.admin)
        assert created.status_code == 201, created.text
        self.id, self.url = created.json()["id"], created.json()["inbound_url"]
        assert self.url == f"/v1/slack/{self.id}/events"

    def send(self, body: str, retry: dict[str, str] | None = None) -> Any:
        return self.client.post(self.url, content=body, headers=signed(body, self.secret) | (retry or {}))

    def conversation(self, thread_ts: str) -> Conversation | None:
        with Session(self.engine) as session:
            return session.exec(
                select(Conversation).where(
                    Conversation.channel == "slack",
                    Conversation.external_id == f"{TEAM_ID}:{CHANNEL_ID}:{thread_ts}",
                )
            ).first()


@pytest.fixture
def workspace(client: Any, seeded_engine: Any, slack: FakeSlack) -> Workspace:
    return Workspace(client, seeded_engine, slack)


def only_delivery(engine: Any) -> Delivery:
    with Session(engine) as session:
        return session.exec(select(Delivery)).one()


def replies_in(slack: FakeSlack, thread_ts: str) -> list[dict[str, Any]]:
    return [p for p in slack.posted("chat.postMessage") if p.get("thread_ts") == thread_ts]


# --- events -----------------------------------------------------------------------------------------------


def test_url_verification_is_answered_with_the_challenge(workspace: Workspace) -> None:
    body = json.dumps({"token": "t", "challenge": "c-" + uuid.uuid4().hex, "type": "url_verification"})
    answer = workspace.send(body)
    assert answer.status_code == 200 and json.loads(body)["challenge"] in answer.text


def test_a_mention_gets_a_threaded_reply_that_used_the_tools(
    workspace: Workspace, seeded_engine: Any
) -> None:
    order = seed_demo(seeded_engine, tenant="default", today=TODAY).examples["CUS-1001"]["in_transit"]
    ts = new_ts()
    answer = workspace.send(mention(f"where is {order}?", ts=ts))
    assert answer.status_code == 200

    (reply,) = wait_for(lambda: replies_in(workspace.slack, ts))
    assert reply["channel"] == CHANNEL_ID and order in reply["text"]
    assert reply["_authorization"].startswith("Bearer xoxb-")
    context = next(b for b in reply["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert "lookup_order" in context
    conversation = workspace.conversation(ts)
    assert conversation is not None and conversation.customer_id == "CUS-1001"  # resolved from the order
    history = workspace.client.get(f"/v1/conversations/{conversation.id}", headers=workspace.admin).json()
    assert history["messages"][0]["content"] == f"where is {order}?"  # the bot's own mention dropped
    feedback = next(b for b in reply["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in feedback["elements"]] == [blocks.FEEDBACK_UP, blocks.FEEDBACK_DOWN]


def test_a_follow_up_in_the_thread_keeps_the_conversation(workspace: Workspace, seeded_engine: Any) -> None:
    order = seed_demo(seeded_engine, tenant="default", today=TODAY).examples["CUS-1001"]["in_transit"]
    ts = new_ts()
    workspace.send(mention(f"where is {order}?", ts=ts))
    wait_for(lambda: replies_in(workspace.slack, ts))
    workspace.send(mention("and when will it arrive?", ts=new_ts(), thread_ts=ts))

    replies = wait_count(lambda: replies_in(workspace.slack, ts), 2)
    assert all(r["thread_ts"] == ts for r in replies)
    conversation = workspace.conversation(ts)
    assert conversation is not None
    client = workspace.client
    history = client.get(f"/v1/conversations/{conversation.id}", headers=workspace.admin).json()
    roles = [m["role"] for m in history["messages"]]
    assert roles == ["customer", "assistant", "customer", "assistant"]


def test_a_retry_of_the_same_event_is_answered_once(workspace: Workspace, seeded_engine: Any) -> None:
    ts = new_ts()
    body = mention("where is my order for CUS-1001?", ts=ts)
    assert workspace.send(body).status_code == 200
    retry = workspace.send(body, {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"})
    assert retry.status_code == 200
    wait_for(lambda: replies_in(workspace.slack, ts))
    time.sleep(1.0)  # a second job, had one been made, would have posted by now
    assert len(replies_in(workspace.slack, ts)) == 1
    with Session(seeded_engine) as session:
        assert len(session.exec(select(Delivery).where(Delivery.integration_id == workspace.id)).all()) == 1


def test_bad_signature_stale_timestamp_and_oversized_bodies_are_refused(workspace: Workspace) -> None:
    body = mention("hello")
    forged = signed(body, "not-the-secret-" + uuid.uuid4().hex)
    assert workspace.client.post(workspace.url, content=body, headers=forged).status_code == 401
    stale = signed(body, workspace.secret, timestamp=int(time.time()) - 6 * 60)
    assert workspace.client.post(workspace.url, content=body, headers=stale).status_code == 401
    unsigned = {"content-type": "application/json"}
    assert workspace.client.post(workspace.url, content=body, headers=unsigned).status_code == 401
    tampered = signed(body, workspace.secret)
    assert workspace.client.post(workspace.url, content=body + " ", headers=tampered).status_code == 401
    huge = json.dumps({"type": "event_callback", "pad": "x" * 300_000})
    assert workspace.send(huge).status_code == 413
    assert (
        workspace.client.post("/v1/slack/int_nope/events", content=body, headers=tampered).status_code == 404
    )
    time.sleep(0.3)
    assert workspace.slack.posted("chat.postMessage") == []


def test_the_previous_signing_secret_works_during_the_grace_period(workspace: Workspace) -> None:
    old = workspace.secret
    new = "sign-" + uuid.uuid4().hex
    rotated = workspace.client.put(
        f"/v1/integrations/{workspace.id}/secrets",
        json={"secrets": {"signing_secret": new, "bot_token": "xoxb-" + uuid.uuid4().hex}, "grace_hours": 1},
        headers=workspace.admin,
    )
    assert rotated.status_code == 200
    challenge = json.dumps({"token": "t", "challenge": "c1", "type": "url_verification"})
    for secret in (old, new):
        sent = workspace.client.post(workspace.url, content=challenge, headers=signed(challenge, secret))
        assert sent.status_code == 200
    workspace.client.put(
        f"/v1/integrations/{workspace.id}/secrets",
        json={
            "secrets": {"signing_secret": "sign-" + uuid.uuid4().hex, "bot_token": "xoxb-x"},
            "grace_hours": 0,
        },
        headers=workspace.admin,
    )
    assert (
        workspace.client.post(workspace.url, content=challenge, headers=signed(challenge, old)).status_code
        == 401
    )


def test_a_direct_message_is_answered_and_channel_chatter_is_not(workspace: Workspace) -> None:
    dm, chatter = json.loads(mention("status of CUS-1001's orders?")), json.loads(mention("lunch?"))
    dm["event"] |= {"type": "message", "channel": "D0DIRECT01", "channel_type": "im"}
    chatter["event"] |= {"type": "message", "channel_type": "channel"}
    assert workspace.send(json.dumps(chatter)).status_code == 200
    assert workspace.send(json.dumps(dm)).status_code == 200
    (reply,) = wait_for(lambda: workspace.slack.posted("chat.postMessage"))
    assert reply["channel"] == "D0DIRECT01" and reply["thread_ts"] == dm["event"]["ts"]
    time.sleep(0.3)
    assert len(workspace.slack.posted("chat.postMessage")) == 1


def test_staff_name_the_customer_by_email_and_no_raw_pii_is_stored(
    workspace: Workspace, seeded_engine: Any
) -> None:
    customer = SqlStoreBackend(seeded_engine).get_customer("default", "CUS-1001")
    assert customer is not None
    ts = new_ts()
    workspace.send(mention(f"{customer.email} asks about their latest order", ts=ts))
    wait_for(lambda: replies_in(workspace.slack, ts))
    conversation = workspace.conversation(ts)
    assert conversation is not None and conversation.customer_id == "CUS-1001"
    with Session(seeded_engine) as session:
        (job,) = session.exec(select(Job).where(Job.kind == "slack.turn")).all()
        (delivery,) = session.exec(select(Delivery)).all()
        assert "<EMAIL" in job.payload["text"] and customer.email not in json.dumps(job.payload)
        assert customer.email not in json.dumps(delivery.result)
    stored = workspace.client.get(
        f"/v1/conversations/{conversation.id}", params={"redacted": True}, headers=workspace.admin
    ).json()
    assert customer.email not in json.dumps(stored)
    restored = workspace.client.get(f"/v1/conversations/{conversation.id}", headers=workspace.admin).json()
    assert customer.email in restored["messages"][0]["content"]  # staff see the real value


def test_a_post_whose_answer_was_lost_is_found_not_repeated(workspace: Workspace) -> None:
    workspace.slack.lose_answer_next("chat.postMessage")
    ts = new_ts()
    workspace.send(mention("what is the status for CUS-1001?", ts=ts))
    wait_for(lambda: workspace.slack.posted("conversations.replies"))
    wait_for(lambda: only_delivery(workspace.engine).status == "done")
    delivery = only_delivery(workspace.engine)
    assert len(replies_in(workspace.slack, ts)) == 1  # Slack took the first post; it was not repeated
    assert delivery.result["reply_ts"] == replies_in(workspace.slack, ts)[0]["_ts"]


def test_a_rerun_after_the_turn_was_stored_reuses_it(workspace: Workspace, seeded_engine: Any) -> None:
    ts = new_ts()
    workspace.send(mention("what is the status for CUS-1001?", ts=ts))
    wait_for(lambda: only_delivery(seeded_engine).status == "done")
    first = only_delivery(seeded_engine)
    with Session(seeded_engine) as session:  # as if the worker died once the turn was stored, nothing else
        row = session.get(Delivery, first.id)
        assert row is not None
        row.result, row.status = {}, "accepted"
        session.add(row)
        session.commit()
        job = session.get(Job, first.job_id)
    workspace.slack.reset()
    runtime = workspace.client.app.state.runtime
    workspace.client.portal.call(run_thread_turn, job, JobContext(runtime=runtime))

    assert len(replies_in(workspace.slack, ts)) == 1
    assert only_delivery(seeded_engine).result["message_id"] == first.result["message_id"]
    with Session(seeded_engine) as session:
        assert len(session.exec(select(Turn).where(Turn.conversation_id == first.conversation_id)).all()) == 1


def test_bots_and_edits_are_ignored(workspace: Workspace) -> None:
    for extra in ({"bot_id": BOT_ID}, {"subtype": "message_changed"}):
        body = json.loads(mention("where is CUS-1001's order?"))
        body["event"] |= extra
        assert workspace.send(json.dumps(body)).status_code == 200
    time.sleep(0.5)
    assert workspace.slack.posted("chat.postMessage") == []


def test_a_rate_limited_post_is_retried_after_retry_after(workspace: Workspace) -> None:
    workspace.slack.rate_limit_next("chat.postMessage", retry_after=1)
    ts = new_ts()
    workspace.send(mention("what is the status for CUS-1001?", ts=ts))
    (reply,) = wait_for(lambda: replies_in(workspace.slack, ts))
    assert reply["thread_ts"] == ts
    wait_for(lambda: only_delivery(workspace.engine).status == "done")
    assert only_delivery(workspace.engine).result["reply_ts"] == reply["_ts"]
    with Session(workspace.engine) as session:
        job = session.get(Job, only_delivery(workspace.engine).job_id)
        assert job is not None and job.attempts == 2 and job.last_error == "slack answered 429 ratelimited"


def test_feedback_buttons_are_stored_with_the_turn(workspace: Workspace, seeded_engine: Any) -> None:
    ts = new_ts()
    workspace.send(mention("hi, CUS-1001 asks about returns", ts=ts))
    (reply,) = wait_for(lambda: replies_in(workspace.slack, ts))
    value = next(b for b in reply["blocks"] if b["type"] == "actions")["elements"][1]["value"]
    message = {"ts": "1.1", "channel": CHANNEL_ID, "thread_ts": ts}
    assert workspace.send(click(blocks.FEEDBACK_DOWN, value, user=STAFF, message=message)).status_code == 200
    with Session(seeded_engine) as session:
        (feedback,) = session.exec(select(Feedback)).all()
        assert (feedback.rating, feedback.channel, feedback.actor) == ("down", "slack", f"slack:{STAFF}")
        assert str(feedback.message_id) == value.split(":")[1]
        assert session.exec(select(AuditEvent).where(AuditEvent.type == "feedback.recorded")).first()


def test_text_is_escaped_for_mrkdwn() -> None:
    cases = {
        "<!channel> refund now": "&lt;!channel&gt; refund now",
        "<https://evil.example|your bank>": "&lt;https://evil.example|your bank&gt;",
        "Tom & Jerry <@U123>": "Tom &amp; Jerry &lt;@U123&gt;",
        "plain": "plain",
    }
    for raw, safe in cases.items():
        assert blocks.escape(raw) == safe
        message = blocks.reply_message(raw, tools=["<!here>"], model="m", degraded=False, feedback=None)
        assert message["text"] == safe and message["blocks"][0]["text"]["text"] == safe
        assert "<!here>" not in json.dumps(message)


# --- approvals by button ------------------------------------------------------------------------------


def _request_refund(workspace: Workspace, seeded_engine: Any) -> tuple[str, str, dict[str, Any]]:
    order = refundable_order(seeded_engine)
    ts = new_ts()
    workspace.send(mention(f"customer says: I want a refund for {order}, it arrived damaged.", ts=ts))
    posts = wait_count(lambda: replies_in(workspace.slack, ts), 2)
    approval_post = posts[1]
    buttons = next(b for b in approval_post["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == [blocks.APPROVE, blocks.REJECT]
    assert order in json.dumps(approval_post["blocks"]) and "Policy checks" in json.dumps(
        approval_post["blocks"]
    )
    message = {"ts": "1700000000.000900", "channel": CHANNEL_ID, "thread_ts": ts}
    return order, buttons[0]["value"], message


def test_an_approver_approves_once_and_a_stranger_never(workspace: Workspace, seeded_engine: Any) -> None:
    order, approval_id, message = _request_refund(workspace, seeded_engine)
    before = len(refunds_of(seeded_engine, order))
    status = lambda: workspace.client.get(f"/v1/approvals/{approval_id}", headers=workspace.admin).json()  # noqa: E731

    assert (
        workspace.send(click(blocks.APPROVE, approval_id, user=STRANGER, message=message)).status_code == 200
    )
    (refusal,) = wait_for(lambda: workspace.slack.posted("chat.postEphemeral"))
    assert refusal["user"] == STRANGER and "Only the approvers" in refusal["text"]
    time.sleep(0.3)
    assert status()["status"] == "pending" and len(refunds_of(seeded_engine, order)) == before
    workspace.send(mention("any news?", ts=new_ts(), thread_ts=message["thread_ts"]))
    waiting = wait_count(lambda: replies_in(workspace.slack, message["thread_ts"]), 3)[2]
    assert "waiting for a staff member" in waiting["text"]

    workspace.send(click(blocks.APPROVE, approval_id, user=APPROVER, message=message))
    (update,) = wait_for(lambda: workspace.slack.posted("chat.update"))
    assert update["ts"] == message["ts"] and f"<@{APPROVER}>" in json.dumps(update["blocks"])
    assert "actions" not in [b["type"] for b in update["blocks"]]
    done = wait_count(lambda: replies_in(workspace.slack, message["thread_ts"]), 4)
    assert "has been issued" in done[3]["text"]
    assert status()["status"] == "executed" and status()["decided_by"] == f"slack:{APPROVER}"
    assert len(refunds_of(seeded_engine, order)) == before + 1

    workspace.send(click(blocks.REJECT, approval_id, user=OTHER_APPROVER, message=message))
    notices = wait_count(lambda: workspace.slack.posted("chat.postEphemeral"), 2)
    assert "already decided" in notices[1]["text"] and notices[1]["user"] == OTHER_APPROVER
    assert len(refunds_of(seeded_engine, order)) == before + 1
    with Session(seeded_engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.type == "approval.approved")).all()
        assert [e.actor for e in events] == [f"slack:{APPROVER}"]


def test_two_clicks_at_the_same_moment_execute_once(workspace: Workspace, seeded_engine: Any) -> None:
    _two_clicks_at_once(workspace, seeded_engine)


def test_two_clicks_at_once_on_postgres(
    slack_settings: Any,
    pg_engine: Any,  # noqa: F811  (the fixture)
    pg_url: str,  # noqa: F811
    slack: FakeSlack,
) -> None:
    seed_demo(pg_engine, tenant="default", today=TODAY)
    settings = slack_settings.model_copy(update={"database_url": pg_url})
    with make_client(settings, pg_engine) as client:
        _two_clicks_at_once(Workspace(client, pg_engine, slack), pg_engine)


def _two_clicks_at_once(workspace: Workspace, engine: Any) -> None:
    order, approval_id, message = _request_refund(workspace, engine)
    before = len(refunds_of(engine, order))
    start = threading.Barrier(2)
    answers: list[int] = []

    def press(user: str) -> None:
        body = click(blocks.APPROVE, approval_id, user=user, message=message)
        start.wait()
        answers.append(workspace.send(body).status_code)

    threads = [threading.Thread(target=press, args=(u,)) for u in (APPROVER, OTHER_APPROVER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200]
    wait_for(lambda: workspace.slack.posted("chat.update") and workspace.slack.posted("chat.postEphemeral"))
    wait_for(lambda: len(replies_in(workspace.slack, message["thread_ts"])) == 3)
    time.sleep(0.5)
    assert len(refunds_of(engine, order)) == before + 1
    assert len(workspace.slack.posted("chat.update")) == 1
    assert len(replies_in(workspace.slack, message["thread_ts"])) == 3  # one reply after the decision


def test_a_click_on_an_expired_approval_says_so(workspace: Workspace, seeded_engine: Any) -> None:
    order, approval_id, message = _request_refund(workspace, seeded_engine)
    with Session(seeded_engine) as session:
        approval = session.get(Approval, approval_id)
        assert approval is not None
        approval.expires_at = utcnow() - timedelta(minutes=1)
        session.add(approval)
        session.commit()
    before = len(refunds_of(seeded_engine, order))
    workspace.send(click(blocks.APPROVE, approval_id, user=APPROVER, message=message))
    (notice,) = wait_for(lambda: workspace.slack.posted("chat.postEphemeral"))
    assert "expired" in notice["text"] and notice["user"] == APPROVER
    (update,) = wait_for(lambda: workspace.slack.posted("chat.update"))
    assert "Expired" in json.dumps(update["blocks"])
    assert len(refunds_of(seeded_engine, order)) == before


# --- alerts-only mode, tenants -----------------------------------------------------------------------------


def test_alerts_only_never_answers_and_posts_approvals_and_handoffs(
    client: Any, seeded_engine: Any, slack: FakeSlack
) -> None:
    workspace = Workspace(client, seeded_engine, slack, mode="alerts_only", alerts_channel=ALERTS)
    ts = new_ts()
    assert workspace.send(mention("refund ORD-104233 for CUS-1001 please", ts=ts)).status_code == 200
    assert workspace.conversation(ts) is None

    agent = bearer(seeded_engine, "default", ("agent",))
    order = refundable_order(seeded_engine)
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent).json()[
        "id"
    ]
    turn = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": f"I want a refund for {order}, it arrived damaged."},
        headers=agent,
    ).json()
    assert turn["pending_approval"]
    (alert,) = wait_for(lambda: slack.posted("chat.postMessage"))
    assert alert["channel"] == ALERTS and not alert.get("thread_ts")
    buttons = next(b for b in alert["blocks"] if b["type"] == "actions")["elements"]
    assert buttons[0]["value"] == turn["pending_approval"]

    human = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent).json()["id"]
    client.post(
        f"/v1/conversations/{human}/messages",
        json={"content": "I want to speak to a human agent, this is unacceptable"},
        headers=agent,
    )
    assert client.get(f"/v1/conversations/{human}", headers=agent).json()["status"] == "needs_human"
    (handoff,) = wait_for(lambda: [p for p in slack.posted("chat.postMessage") if human in p["text"]])
    assert handoff["channel"] == ALERTS and "needs a human" in handoff["text"]

    message = {"ts": "1700000000.000777", "channel": ALERTS}
    workspace.send(click(blocks.APPROVE, turn["pending_approval"], user=APPROVER, message=message))
    wait_for(lambda: slack.posted("chat.update"))
    time.sleep(0.5)
    assert all(p["channel"] == ALERTS for p in slack.posted("chat.postMessage"))  # nothing in any thread
    assert len(refunds_of(seeded_engine, order)) >= 1


def test_two_tenants_apps_never_share_a_thread(client: Any, seeded_engine: Any, slack: FakeSlack) -> None:
    ours = Workspace(client, seeded_engine, slack)
    theirs = Workspace(client, seeded_engine, slack, tenant="acme")
    ts = new_ts()
    body = mention("where is CUS-1001's latest order?", ts=ts)
    ours.send(body)
    assert theirs.client.post(theirs.url, content=body, headers=signed(body, ours.secret)).status_code == 401
    theirs.send(mention("where is CUS-1001's latest order?", ts=ts))
    wait_for(lambda: len(replies_in(slack, ts)) == 2)
    with Session(seeded_engine) as session:
        rows = session.exec(select(Conversation).where(Conversation.channel == "slack")).all()
        assert sorted(r.tenant for r in rows) == ["acme", "default"]
