"""The Slack jobs: run a thread's turn and post it, decide an approval from a click, notices and alerts.

Each job may run twice (a worker killed mid-way), so each records what it did in its delivery row
(`Delivery.result`: the stored reply's id, the ts of every message it posted) before the next step,
and a re-run skips what is recorded. Slack's errors map to the job errors: 429 and 5xx are retried
(after `Retry-After` when Slack says), other refusals end the job.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.channels.slack import blocks
from api.channels.slack.app import CHANNEL, slack_config, web_client
from api.deliveries import Delivery
from api.errors import ConflictError, NotFoundError
from api.integrations import Integration
from api.jobs import DeadJob, Job, JobContext, RetryJob, job_handler
from api.models import Approval, Message, Turn, utcnow
from api.runtime import Runtime

log = logging.getLogger(__name__)

CUSTOMER_ID = re.compile(r"\bCUS-\d{3,10}\b")
ORDER_NUMBER = re.compile(r"\bORD-\d{6}\b")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
WAITING = (
    "This thread is waiting for a staff member to decide on a pending request; ask again once it is decided."
)
POSTING = "posting"  # a post under way: its outcome is unknown until the ts is recorded
REFUSED = "Only the approvers configured for Deskpilot can decide this request; nothing was changed."


# --- a message in a thread: the turn, its reply, its approval request ----------------------------------


@job_handler("slack.turn")
async def run_thread_turn(job: Job, ctx: JobContext) -> None:
    runtime, payload = ctx.runtime, job.payload
    delivery, integration = _load(runtime, payload)
    if delivery.status == "done":
        return
    tenant, conversation_id = integration.tenant, payload["conversation_id"]
    client = web_client(runtime, integration)
    done = dict(delivery.result)
    if "message_id" not in done:
        message_id = await _run_turn(runtime, delivery, payload, tenant)
        if message_id is None:
            notice = blocks.notice_message(WAITING)
            await _post_once(runtime, delivery.id, "notice_ts", client, payload, notice)
            _finish(runtime, delivery.id, "done")
            return
        done = _record(runtime, delivery.id, message_id=message_id)
    reply = _stored_message(runtime, tenant, conversation_id, int(done["message_id"]))
    await _post_once(runtime, delivery.id, "reply_ts", client, payload, _reply(reply))
    if approval_id := reply.meta.get("pending_approval"):
        approval = runtime.approvals.get(tenant=tenant, approval_id=approval_id)
        where = "Requested in this thread" + (
            f" for customer {approval.customer_id}" if approval.customer_id else ""
        )
        await _post_once(
            runtime, delivery.id, "approval_ts", client, payload, _approval(runtime, approval, where)
        )
    _finish(runtime, delivery.id, "done")


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
    delivery, integration = _load(runtime, payload)
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
            await _ephemeral_once(runtime, delivery.id, client, payload, "This request no longer exists.")
            _finish(runtime, delivery.id, "done")
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
        done = _record(runtime, delivery.id, status=approval.status, first=first, reply_message_id=reply_id)
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
        await _call(client.chat_update(channel=payload["channel"], ts=payload["message_ts"], **decided))
        done = _record(runtime, delivery.id, updated=True)
    if not done["first"]:
        by = approval.decided_by or ""
        who = f" by <@{by.removeprefix('slack:')}>" if by.startswith("slack:") else ""
        text = (
            "This request expired before anyone decided it; nothing was changed."
            if approval.status == "expired"
            else f"This request was already decided ({approval.status}{who})."
        )
        await _ephemeral_once(runtime, delivery.id, client, payload, text)
    # Whichever click's job resumed the turn holds its reply (with two at once, not always the first).
    if done.get("reply_message_id") and config.mode == "assist" and payload.get("thread_ts"):
        stored = _stored_message(runtime, tenant, approval.conversation_id, int(done["reply_message_id"]))
        await _post_once(runtime, delivery.id, "reply_ts", client, payload, _reply(stored))
    _finish(runtime, delivery.id, "done")


@job_handler("slack.notice")
async def send_notice(job: Job, ctx: JobContext) -> None:
    """The ephemeral refusal a non-approver's click gets: only they see it, and nothing else happens."""
    runtime, payload = ctx.runtime, job.payload
    delivery, integration = _load(runtime, payload)
    if delivery.status == "done":
        return
    await _ephemeral_once(runtime, delivery.id, web_client(runtime, integration), payload, REFUSED)
    _finish(runtime, delivery.id, "done")


# --- alerts-only mode: handoffs and approvals from every channel, to one Slack channel ---------------


@job_handler("slack.alert")
async def post_alert(job: Job, ctx: JobContext) -> None:
    runtime, payload = ctx.runtime, job.payload
    delivery, integration = _load(runtime, payload)
    if delivery.status == "done":
        return
    config = slack_config(runtime, integration)
    assert config.alerts_channel is not None
    target = {"channel": config.alerts_channel, "thread_ts": ""}
    if payload["alert"] == "approval":
        approval = runtime.approvals.get(tenant=integration.tenant, approval_id=payload["approval_id"])
        if approval.status != "pending":
            _finish(runtime, delivery.id, "dropped")
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
    await _post_once(runtime, delivery.id, "alert_ts", web_client(runtime, integration), target, message)
    _finish(runtime, delivery.id, "done")


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


async def _post_once(
    runtime: Runtime,
    delivery_id: str,
    step: str,
    client: AsyncWebClient,
    target: dict[str, Any],
    message: dict[str, Any],
) -> None:
    """Posts `message` once for this delivery's `step`, its ts recorded after.

    "posting" is recorded first and the message carries a marker in its metadata: a re-run that finds
    "posting" (the worker died, or Slack's answer was lost, mid-call) looks for the marker in the thread
    before posting again. Reading the thread needs the `*:history` scopes; without them it posts again.
    """
    recorded = _delivery(runtime, delivery_id).result.get(step)
    if recorded is not None and recorded != POSTING:
        return
    marker = {"event_type": "deskpilot_post", "event_payload": {"delivery_id": delivery_id, "step": step}}
    if recorded == POSTING and (ts := await _find_marker(client, target, marker)):
        _record(runtime, delivery_id, **{step: ts})
        return
    _record(runtime, delivery_id, **{step: POSTING})
    answer = await _call(
        client.chat_postMessage(
            channel=target["channel"],
            thread_ts=target.get("thread_ts") or None,
            unfurl_links=False,
            unfurl_media=False,
            metadata=marker,
            **message,
        )
    )
    _record(runtime, delivery_id, **{step: answer.get("ts")})


async def _find_marker(client: AsyncWebClient, target: dict[str, Any], marker: dict[str, Any]) -> str | None:
    try:
        if target.get("thread_ts"):
            found = await _call(
                client.conversations_replies(
                    channel=target["channel"], ts=target["thread_ts"], include_all_metadata=True, limit=200
                )
            )
        else:
            found = await _call(
                client.conversations_history(channel=target["channel"], include_all_metadata=True, limit=100)
            )
    except DeadJob:
        return None  # e.g. missing_scope: posting again is the lesser evil than never answering
    for posted in found.get("messages") or []:
        if (posted.get("metadata") or {}).get("event_payload") == marker["event_payload"]:
            return str(posted["ts"])
    return None


async def _ephemeral_once(
    runtime: Runtime, delivery_id: str, client: AsyncWebClient, payload: dict[str, Any], text: str
) -> None:
    if "ephemeral_ts" in _delivery(runtime, delivery_id).result:
        return
    answer = await _call(
        client.chat_postEphemeral(
            channel=payload["channel"],
            user=payload["user"],
            thread_ts=payload.get("thread_ts") or None,
            **blocks.notice_message(text),
        )
    )
    _record(runtime, delivery_id, ephemeral_ts=answer.get("message_ts"))


async def _call(request: Awaitable[Any]) -> Any:
    """One Web API call; Slack's answer mapped to retry-later or give-up (the messages hold no PII)."""
    try:
        return await request
    except SlackApiError as error:
        status = error.response.status_code
        code = str(error.response.get("error") or "error")
        if status == 429 or code == "ratelimited":
            retry_after = error.response.headers.get("Retry-After") or error.response.headers.get(
                "retry-after"
            )
            raise RetryJob(f"slack answered 429 {code}", after_s=float(retry_after or 1)) from None
        if status >= 500 or code in ("internal_error", "fatal_error", "service_unavailable"):
            raise RetryJob(f"slack answered {status} {code}") from None
        raise DeadJob(f"slack refused the call: {code}") from None
    except (aiohttp.ClientError, TimeoutError) as error:
        raise RetryJob(f"slack unreachable ({type(error).__name__})") from None


# --- the delivery row ------------------------------------------------------------------------------------


def _load(runtime: Runtime, payload: dict[str, Any]) -> tuple[Delivery, Integration]:
    integration = runtime.integrations.get(payload["integration_id"])
    if integration is None or integration.provider != CHANNEL:
        raise DeadJob("the Slack integration was removed")
    return _delivery(runtime, payload["delivery_id"]), integration


def _delivery(runtime: Runtime, delivery_id: str) -> Delivery:
    with Session(runtime.engine, expire_on_commit=False) as session:
        delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise DeadJob("the delivery of this job is missing")
    return delivery


def _record(runtime: Runtime, delivery_id: str, **values: Any) -> dict[str, Any]:
    with Session(runtime.engine, expire_on_commit=False) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.result = {**delivery.result, **values}  # a new dict, so the JSON column is written
        session.add(delivery)
        session.commit()
        return dict(delivery.result)


def _finish(runtime: Runtime, delivery_id: str, status: str) -> None:
    with Session(runtime.engine) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.status, delivery.finished_at = status, utcnow()
        session.add(delivery)
        session.commit()


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
