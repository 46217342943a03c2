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
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from agent.turns import TurnResult
from api.channels.slack import blocks
from api.channels.slack.app import CHANNEL, slack_config, web_client
from api.deliveries import Delivery
from api.errors import ConflictError, NotFoundError
from api.integrations import Integration
from api.jobs import DeadJob, Job, JobContext, RetryJob, job_handler
from api.models import Approval, utcnow
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
    delivery, integration = _load(runtime, payload)
    if delivery.status == "done":
        return
    tenant, conversation_id = integration.tenant, payload["conversation_id"]
    client = web_client(runtime, integration)
    done = dict(delivery.result)
    if "message_id" not in done:
        text = _restore(runtime, tenant, conversation_id, payload["text"])
        await _bind_customer(runtime, tenant, conversation_id, text, actor=f"slack:{payload['user']}")
        try:
            result = await runtime.conversations.send(
                tenant=tenant,
                conversation_id=conversation_id,
                text=text,
                customer_id=None,
                actor=f"slack:{payload['user']}",
                channel=CHANNEL,
            )
        except ConflictError:
            await _post_once(
                runtime, delivery.id, "notice_ts", client, payload, blocks.notice_message(WAITING)
            )
            _finish(runtime, delivery.id, "done")
            return
        done = _record(runtime, delivery.id, **_turn_record(result))
    reply = _stored_reply(runtime, tenant, conversation_id, int(done["message_id"]))
    message = blocks.reply_message(
        reply,
        tools=done.get("tools", []),
        model=done.get("model", ""),
        degraded=bool(done.get("degraded")),
        feedback=f"{conversation_id}:{done['message_id']}",
    )
    await _post_once(runtime, delivery.id, "reply_ts", client, payload, message)
    if done.get("pending_approval"):
        approval = runtime.approvals.get(tenant=tenant, approval_id=done["pending_approval"])
        where = "Requested in this thread" + (
            f" for customer {approval.customer_id}" if approval.customer_id else ""
        )
        await _post_once(
            runtime, delivery.id, "approval_ts", client, payload, _approval(runtime, approval, where)
        )
    _finish(runtime, delivery.id, "done")


def _turn_record(result: TurnResult) -> dict[str, Any]:
    return {
        "message_id": result.message_id,
        "turn_id": result.turn_id,
        "pending_approval": result.pending_approval,
        "handoff": bool(result.handoff),
        "tools": [call["name"] for call in result.tool_calls],
        "model": result.model,
        "degraded": result.degraded,
    }


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
        done = _record(
            runtime,
            delivery.id,
            status=approval.status,
            first=first,
            reply_message_id=reply.message_id if reply is not None else None,
            tools=[call["name"] for call in reply.tool_calls] if reply is not None else [],
            model=reply.model if reply is not None else "",
            degraded=reply.degraded if reply is not None else False,
        )
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
        reply_text = _stored_reply(runtime, tenant, approval.conversation_id, int(done["reply_message_id"]))
        message = blocks.reply_message(
            reply_text,
            tools=done.get("tools", []),
            model=done.get("model", ""),
            degraded=bool(done.get("degraded")),
            feedback=f"{approval.conversation_id}:{done['reply_message_id']}",
        )
        await _post_once(runtime, delivery.id, "reply_ts", client, payload, message)
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
    """Posts `message` unless this delivery recorded `step` already; records the ts right after."""
    if step in _delivery(runtime, delivery_id).result:
        return
    answer = await _call(
        client.chat_postMessage(
            channel=target["channel"],
            thread_ts=target.get("thread_ts") or None,
            unfurl_links=False,
            unfurl_media=False,
            **message,
        )
    )
    _record(runtime, delivery_id, **{step: answer.get("ts")})


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


def _stored_reply(runtime: Runtime, tenant: str, conversation_id: str, message_id: int) -> str:
    """The reply as stored with the turn, PII restored: staff read it, the model only saw placeholders."""
    for message in runtime.conversations.messages(
        tenant=tenant, conversation_id=conversation_id, restore=True
    ):
        if message.id == message_id:
            return message.content
    raise DeadJob("the stored reply of this turn is missing")
