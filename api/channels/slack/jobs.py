"""The Slack jobs: run a thread's turn and post it, decide an approval from a click, notices and alerts.

Each job may run twice (a worker killed mid-way), so each records what it did in its delivery row
(`Delivery.result`: the stored reply's id, the ts of every message it posted) before the next step,
and a re-run skips what is recorded (api.channels.slack.posting).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.channels.slack import blocks
from api.channels.slack.app import CHANNEL, slack_config, web_client
from api.channels.slack.posting import call, ephemeral_once, finish, load, post_once, record
from api.deliveries import Delivery
from api.errors import ConflictError, NotFoundError
from api.jobs import DeadJob, Job, JobContext, RetryJob, job_handler
from api.models import Approval, Message, Turn
from api.runtime import Runtime

log = logging.getLogger(__name__)

CUSTOMER_ID = re.compile(r"\bCUS-\d{3,10}\b")
ORDER_NUMBER = re.compile(r"\bORD-\d{6}\b")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
WAITING = (
    "This thread is waiting for a staff member to decide on a pending request; ask again once it is decided."
)
REFUSED = "Only the approvers configured for Deskpilot can decide this request; nothing was changed."


# --- a message in a thread: the turn, its reply, its approval request ----------------------------------


@job_handler("slack.turn")
async def run_thread_turn(job: Job, ctx: JobContext) -> None:
    runtime, payload = ctx.runtime, job.payload
    delivery, integration = load(runtime, payload)
    if delivery.status == "done":
        return
    tenant, conversation_id = integration.tenant, payload["conversation_id"]
    client = web_client(runtime, integration)
    done = dict(delivery.result)
    if "message_id" not in done:
        message_id = await _run_turn(runtime, delivery, payload, tenant)
        if message_id is None:
            notice = blocks.notice_message(WAITING)
            await post_once(runtime, delivery.id, "notice_ts", client, payload, notice)
            finish(runtime, delivery.id, "done")
            return
        done = record(runtime, delivery.id, message_id=message_id)
    reply = _stored_message(runtime, tenant, conversation_id, int(done["message_id"]))
    await post_once(runtime, delivery.id, "reply_ts", client, payload, _reply(reply))
    if approval_id := reply.meta.get("pending_approval"):
        approval = runtime.approvals.get(tenant=tenant, approval_id=approval_id)
        where = "Requested in this thread" + (
            f" for customer {approval.customer_id}" if approval.customer_id else ""
        )
        await post_once(
            runtime, delivery.id, "approval_ts", client, payload, _approval(runtime, approval, where)
        )
    finish(runtime, delivery.id, "done")


async def _run_turn(runtime: Runtime, delivery: Delivery, payload: dict[str, Any], tenant: str) -> int | None:
    """The turn of this message, run once: the id of its stored reply (None: an approval is waiting)."""
    conversation_id, actor = payload["conversation_id"], f"slack:{payload['user']}"
    earlier = await run_in_threadpool(_earlier_turn, runtime, delivery, payload)
    if earlier is not None:  # an earlier attempt started the turn and died before recording its reply
        if earlier.status == "done" and earlier.reply_message_id is not None:
            return earlier.reply_message_id
        if earlier.status == "running":
            raise RetryJob("the turn of an earlier attempt is still running", after_s=30)
        result = await runtime.conversations.retry_turn(
            tenant=tenant, conversation_id=conversation_id, turn_id=earlier.id, actor=actor
        )
        return result.message_id
    text = _restore(runtime, tenant, conversation_id, payload["text"])
    await _bind_customer(runtime, tenant, conversation_id, text, actor=actor)
    try:
        result = await runtime.conversations.send(
            tenant=tenant,
            conversation_id=conversation_id,
            text=text,
            customer_id=None,
            actor=actor,
            channel=CHANNEL,
        )
    except ConflictError:
        return None
    return result.message_id


def _earlier_turn(runtime: Runtime, delivery: Delivery, payload: dict[str, Any]) -> Turn | None:
    """A turn of this conversation, started since the delivery arrived, whose customer message is this one."""
    with Session(runtime.engine) as session:
        turns = session.exec(
            select(Turn)
            .where(
                Turn.conversation_id == payload["conversation_id"],
                Turn.kind == "reply",
                Turn.channel == CHANNEL,
                Turn.actor == f"slack:{payload['user']}",
                col(Turn.started_at) >= delivery.received_at,
            )
            .order_by(col(Turn.started_at))
        ).all()
        for turn in turns:
            inputs = [session.get(Message, message_id) for message_id in turn.input_message_ids]
            if any(m is not None and m.role == "customer" and m.content == payload["text"] for m in inputs):
                return turn
    return None


def _reply(message: Message) -> dict[str, Any]:
    meta = message.meta
    return blocks.reply_message(
        message.content,
        tools=[call["name"] for call in meta.get("tool_calls", [])],
        model=str(meta.get("model") or ""),
        degraded=bool(meta.get("degraded")),
        feedback=f"{message.conversation_id}:{message.id}",
    )


async def _bind_customer(
    runtime: Runtime, tenant: str, conversation_id: str, text: str, *, actor: str
) -> None:
    """Slack users are staff: the customer is whoever the thread names (an id, an e-mail, an order)."""
    conversation = runtime.conversations.get(tenant=tenant, conversation_id=conversation_id)
    if conversation.customer_id is not None:
        return  # bound once; the tools check every later request against this customer
    customer_id = await run_in_threadpool(find_customer, runtime, tenant, text)
    if customer_id is not None:
        await run_in_threadpool(
            lambda: runtime.conversations.bind_customer(
                tenant=tenant, conversation_id=conversation_id, customer_id=customer_id, actor=actor
            )
        )


def find_customer(runtime: Runtime, tenant: str, text: str) -> str | None:
    backend = runtime.backend
    for customer_id in CUSTOMER_ID.findall(text):
        if backend.get_customer(tenant, customer_id) is not None:
            return str(customer_id)
    for email in EMAIL.findall(text):
        if (customer := backend.find_customer_by_email(tenant, email)) is not None:
            return str(customer.customer_id)
    for number in ORDER_NUMBER.findall(text):
        if (order := backend.get_order(tenant, number)) is not None:
            return str(order.customer_id)
    return None


# --- a click on Approve / Reject -------------------------------------------------------------------------


@job_handler("slack.decide")
async def decide_from_click(job: Job, ctx: JobContext) -> None:
    runtime, payload = ctx.runtime, job.payload
    delivery, integration = load(runtime, payload)
    if delivery.status == "done":
        return
    tenant, user = integration.tenant, payload["user"]
    client = web_client(runtime, integration)
    done = dict(delivery.result)
    if "status" not in done:
        try:
            approval, reply, first = await runtime.approvals.decide_and_resume(
                tenant=tenant,
                approval_id=payload["approval_id"],
                decision=payload["decision"],
                note=None,
                actor=f"slack:{user}",
            )
        except NotFoundError:
            await ephemeral_once(runtime, delivery.id, client, payload, "This request no longer exists.")
            finish(runtime, delivery.id, "done")
            return
        except ConflictError:
            approval, reply, first = (
                runtime.approvals.get(tenant=tenant, approval_id=payload["approval_id"]),
                None,
                False,
            )
        if first:
            runtime.conversations.metrics.approvals.labels(payload["decision"]).inc()
        reply_id = reply.message_id if reply is not None else None
        done = record(runtime, delivery.id, status=approval.status, first=first, reply_message_id=reply_id)
    approval = runtime.approvals.get(tenant=tenant, approval_id=payload["approval_id"])
    config = slack_config(runtime, integration)
    stale_buttons = done["first"] or approval.status == "expired"
    if stale_buttons and "updated" not in done and payload.get("message_ts"):
        decided = blocks.decided_message(
            tool=approval.tool,
            args=runtime.approvals.restored(approval, approval.args),
            checks=approval.checks,
            status=approval.status,
            by=approval.decided_by,
            where=f"Conversation `{approval.conversation_id}`",
        )
        await call(client.chat_update(channel=payload["channel"], ts=payload["message_ts"], **decided))
        done = record(runtime, delivery.id, updated=True)
    if not done["first"]:
        by = approval.decided_by or ""
        who = f" by <@{by.removeprefix('slack:')}>" if by.startswith("slack:") else ""
        text = (
            "This request expired before anyone decided it; nothing was changed."
            if approval.status == "expired"
            else f"This request was already decided ({approval.status}{who})."
        )
        await ephemeral_once(runtime, delivery.id, client, payload, text)
    # Whichever click's job resumed the turn holds its reply (with two at once, not always the first).
    if done.get("reply_message_id") and config.mode == "assist" and payload.get("thread_ts"):
        stored = _stored_message(runtime, tenant, approval.conversation_id, int(done["reply_message_id"]))
        await post_once(runtime, delivery.id, "reply_ts", client, payload, _reply(stored))
    finish(runtime, delivery.id, "done")


@job_handler("slack.notice")
async def send_notice(job: Job, ctx: JobContext) -> None:
    """The ephemeral refusal a non-approver's click gets: only they see it, and nothing else happens."""
    runtime, payload = ctx.runtime, job.payload
    delivery, integration = load(runtime, payload)
    if delivery.status == "done":
        return
    await ephemeral_once(runtime, delivery.id, web_client(runtime, integration), payload, REFUSED)
    finish(runtime, delivery.id, "done")


# --- alerts-only mode: handoffs and approvals from every channel, to one Slack channel ---------------


@job_handler("slack.alert")
async def post_alert(job: Job, ctx: JobContext) -> None:
    runtime, payload = ctx.runtime, job.payload
    delivery, integration = load(runtime, payload)
    if delivery.status == "done":
        return
    config = slack_config(runtime, integration)
    assert config.alerts_channel is not None
    target = {"channel": config.alerts_channel, "thread_ts": ""}
    if payload["alert"] == "approval":
        approval = runtime.approvals.get(tenant=integration.tenant, approval_id=payload["approval_id"])
        if approval.status != "pending":
            finish(runtime, delivery.id, "dropped")
            return
        where = f"Conversation `{approval.conversation_id}`" + (
            f", customer {approval.customer_id}" if approval.customer_id else ""
        )
        message = _approval(runtime, approval, where)
    else:
        conversation = runtime.conversations.get(
            tenant=integration.tenant, conversation_id=payload["conversation_id"]
        )
        message = blocks.handoff_message(
            conversation_id=conversation.id, channel=conversation.channel, reason=payload.get("reason")
        )
    await post_once(runtime, delivery.id, "alert_ts", web_client(runtime, integration), target, message)
    finish(runtime, delivery.id, "done")


# --- posting, once ---------------------------------------------------------------------------------------


def _approval(runtime: Runtime, approval: Approval, where: str) -> dict[str, Any]:
    return blocks.approval_message(
        approval_id=approval.id,
        tool=approval.tool,
        args=runtime.approvals.restored(approval, approval.args),
        checks=approval.checks,
        expires=approval.expires_at.strftime("%Y-%m-%d %H:%M UTC") if approval.expires_at else None,
        where=where,
    )


def _restore(runtime: Runtime, tenant: str, conversation_id: str, text: str) -> str:
    """The staff member's words with the real values back, for the conversation service to redact."""
    if runtime.redactor is None:
        return text
    return str(runtime.redactor.restore(text, tenant=tenant, conversation_id=conversation_id))


def _stored_message(runtime: Runtime, tenant: str, conversation_id: str, message_id: int) -> Message:
    """The reply as stored with its turn, PII restored: staff read it, the model only saw placeholders."""
    messages = runtime.conversations.messages(tenant=tenant, conversation_id=conversation_id, restore=True)
    for message in messages:
        if message.id == message_id:
            return message
    raise DeadJob("the stored reply of this turn is missing")
