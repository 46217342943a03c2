"""The job behind one accepted delivery: draft and triage the customer's message, post one internal note.

Idempotent across crashes, keyed on the delivery: each phase records its outcome in `Delivery.result`
before the next starts, so a re-run skips what is done.
1. draft: the customer's (redacted) message goes through the conversation service as a staff draft
   (`as_draft`: tools follow the usual rules, money-moving ones only as approvals), then triage;
2. stale check: a newer customer message on the same ticket drops this draft (status `dropped`);
3. note: `posting` is recorded first; a run that finds `posting` (an interrupted attempt) asks the
   helpdesk whether the note, which ends in the delivery's marker, is there before posting again.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from anyio import to_thread
from sqlmodel import Session, col, select

from agent.turns import TurnResult
from api.channels.helpdesk import HELPDESKS, JOB_KIND
from api.channels.helpdesk.base import Note
from api.channels.helpdesk.notes import already_posted, render, send
from api.deliveries import Delivery
from api.errors import ApiError, ConflictError
from api.jobs import DeadJob, Job, JobContext, RetryJob, job_handler
from api.models import Message, Turn, UsageRecord, utcnow
from api.runtime import Runtime
from api.turns import TurnFailed

log = logging.getLogger(__name__)


@job_handler(JOB_KIND)
async def handle_delivery(job: Job, ctx: JobContext) -> None:
    runtime = ctx.runtime
    delivery = await to_thread.run_sync(_load, runtime, job.payload["delivery_id"])
    if delivery is None or delivery.status in ("done", "dropped", "failed"):
        return
    integration = runtime.integrations.get(delivery.integration_id)
    if integration is None:
        await to_thread.run_sync(_finish, runtime, delivery.id, "failed", {"error": "integration removed"})
        raise DeadJob("integration removed")
    helpdesk = HELPDESKS[integration.provider]
    result = dict(delivery.result)
    if await to_thread.run_sync(_newer_exists, runtime, delivery):
        await _drop(runtime, delivery, result)
        return
    if "message_id" not in result:
        result.update(await _draft(runtime, delivery, job.payload, result))
        await to_thread.run_sync(_save, runtime, delivery.id, result)
    if await to_thread.run_sync(_newer_exists, runtime, delivery):
        await _drop(runtime, delivery, result)
        return
    note = _note(runtime, delivery, result)
    config, secrets = runtime.integrations.config(integration), runtime.integrations.secrets(integration)
    ticket_id = (delivery.external_id or "").split(":", 1)[1]
    settings = runtime.settings
    async with httpx.AsyncClient(timeout=settings.helpdesk_timeout_s) as client:
        if result.get("note") == "posting" and await already_posted(
            client, helpdesk, helpdesk.notes_call(config, secrets, ticket_id), note
        ):
            log.info("delivery %s: the interrupted attempt had posted its note", delivery.id)
        else:
            result["note"] = "posting"
            await to_thread.run_sync(_save, runtime, delivery.id, result)
            try:
                await send(client, helpdesk.note_call(config, secrets, ticket_id, note))
            except DeadJob as error:
                await to_thread.run_sync(
                    _finish, runtime, delivery.id, "failed", {**result, "error": error.message}
                )
                raise
    result["note"] = "posted"
    await to_thread.run_sync(_finish, runtime, delivery.id, "done", result)
    runtime.audit.record(
        tenant=delivery.tenant,
        type="helpdesk.note_posted",
        actor=f"integration:{integration.id}",
        conversation_id=delivery.conversation_id,
        payload={
            "delivery_id": delivery.id,
            "provider": integration.provider,
            "ticket": delivery.external_id,
            "message_id": result.get("message_id"),
            "triage": result.get("triage"),
            "pending_approvals": [a["id"] for a in result.get("pending_approvals", [])],
            "chars": len(note.text),
        },
    )


# --- 1. draft and triage -------------------------------------------------------------------------------


async def _draft(
    runtime: Runtime, delivery: Delivery, payload: dict[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    tenant, conversation_id = delivery.tenant, delivery.conversation_id
    assert conversation_id is not None
    actor, channel = f"integration:{delivery.integration_id}", delivery.provider
    text = payload["text"]
    if payload.get("customer_id"):
        try:
            runtime.conversations.bind_customer(
                tenant=tenant,
                conversation_id=conversation_id,
                customer_id=payload["customer_id"],
                actor=actor,
            )
        except ApiError:
            log.info("delivery %s: the ticket's conversation belongs to another customer", delivery.id)
    if not result.get("failed_turn"):
        earlier = await to_thread.run_sync(_earlier_turn, runtime, delivery, text)
        if earlier is not None and earlier.status == "running":
            raise RetryJob("an interrupted attempt's turn is still running", after_s=30.0)
        if earlier is not None and earlier.status == "failed":
            result = {**result, "failed_turn": earlier.id}
        elif earlier is not None and earlier.status == "done":
            stored = await to_thread.run_sync(_stored_result, runtime, earlier)
            return {**await _triage(runtime, delivery, text), **stored}
    try:
        if result.get("failed_turn"):
            turn = await runtime.conversations.retry_turn(
                tenant=tenant, conversation_id=conversation_id, turn_id=result["failed_turn"], actor=actor
            )
        else:
            turn = await runtime.conversations.send(
                tenant=tenant,
                conversation_id=conversation_id,
                text=text,
                customer_id=None,
                actor=actor,
                channel=channel,
                as_draft=True,
            )
    except TurnFailed as error:
        await to_thread.run_sync(
            _save, runtime, delivery.id, {**result, "failed_turn": error.details["turn_id"]}
        )
        raise RetryJob("the draft turn failed") from None
    except ConflictError as error:
        # The conversation waits for an approval: keep the customer's words for the next turn, and say so.
        await runtime.conversations.add_staff_message(
            tenant=tenant,
            conversation_id=conversation_id,
            text=f"The customer wrote (while an approval was pending): {text}",
            kind="note",
            author=actor,
            channel=channel,
        )
        waiting = [str(a) for a in error.details.get("pending_approvals") or []]  # type: ignore[attr-defined]
        return {
            **await _triage(runtime, delivery, text),
            "message_id": None,
            **_approvals(runtime, tenant, waiting),
        }
    return {**await _triage(runtime, delivery, text), **_turn_result(runtime, tenant, turn)}


def _turn_result(runtime: Runtime, tenant: str, turn: TurnResult) -> dict[str, Any]:
    """What the note needs from the turn, without PII (the draft stays in the messages table)."""
    return {
        "conversation_id": turn.conversation_id,
        "turn_id": turn.turn_id,
        "message_id": turn.message_id,
        "model": turn.model,
        "degraded": turn.degraded,
        "citations": [_citation(c) for c in turn.citations],
        "tool_calls": [{"name": c["name"], "status": c["status"]} for c in turn.tool_calls],
        **_approvals(runtime, tenant, [turn.pending_approval] if turn.pending_approval else []),
    }


def _earlier_turn(runtime: Runtime, delivery: Delivery, text: str) -> Turn | None:
    """The turn an interrupted attempt of this delivery started: its customer message (this text) is stored
    after the delivery arrived. Re-running the job must not send the customer's message twice."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        message = session.exec(
            select(Message)
            .where(
                Message.conversation_id == delivery.conversation_id,
                Message.role == "customer",
                Message.content == text,
                col(Message.created_at) >= delivery.received_at,
            )
            .order_by(col(Message.id).desc())
        ).first()
        return session.get(Turn, message.turn_id) if message is not None and message.turn_id else None


def _stored_result(runtime: Runtime, turn: Turn) -> dict[str, Any]:
    """What `_turn_result` gives, read back from the turn's stored draft."""
    with Session(runtime.engine) as session:
        reply = session.get(Message, turn.reply_message_id) if turn.reply_message_id else None
    meta = reply.meta if reply is not None else {}
    pending = meta.get("pending_approval")
    return {
        "conversation_id": turn.conversation_id,
        "turn_id": turn.id,
        "message_id": turn.reply_message_id,
        "model": meta.get("model"),
        "degraded": meta.get("degraded"),
        "citations": [_citation(c) for c in meta.get("citations") or []],
        "tool_calls": meta.get("tool_calls") or [],
        **_approvals(runtime, turn.tenant, [pending] if pending else []),
    }


def _citation(citation: dict[str, Any]) -> dict[str, Any]:
    source = str(citation.get("source") or "")
    link = source if source.startswith(("http://", "https://")) else None
    return {
        "title": citation.get("title") or citation.get("document_id"),
        "link": link,
        "n": citation.get("n"),
    }


def _approvals(runtime: Runtime, tenant: str, ids: list[str]) -> dict[str, Any]:
    found = []
    for approval_id in ids:
        try:
            approval = runtime.approvals.get(tenant=tenant, approval_id=approval_id)
            found.append({"id": approval_id, "tool": approval.tool})
        except ApiError:
            found.append({"id": approval_id, "tool": "unknown"})
    return {"pending_approvals": found}


async def _triage(runtime: Runtime, delivery: Delivery, text: str) -> dict[str, Any]:
    triaged = await runtime.triage.classify(
        text, tenant=delivery.tenant, actor=f"integration:{delivery.integration_id}"
    )

    def record_usage() -> None:
        with Session(runtime.engine) as session:
            for call in triaged.usage.get("calls", []):
                session.add(
                    UsageRecord(
                        tenant=delivery.tenant,
                        conversation_id=delivery.conversation_id,
                        model=call["model"],
                        input_tokens=call["input_tokens"],
                        cached_tokens=call["cached_tokens"],
                        output_tokens=call["output_tokens"],
                        cost_usd=call["cost_usd"],
                        latency_ms=call["latency_ms"],
                    )
                )
            session.commit()

    if triaged.usage.get("calls"):
        await to_thread.run_sync(record_usage)
    return {"triage": triaged.triage.model_dump(), "triage_model": triaged.model}


# --- 2. stale drafts -----------------------------------------------------------------------------------


def _newer_exists(runtime: Runtime, delivery: Delivery) -> bool:
    with Session(runtime.engine) as session:
        newer = session.exec(
            select(Delivery.id).where(
                Delivery.integration_id == delivery.integration_id,
                Delivery.external_id == delivery.external_id,
                col(Delivery.received_at) > delivery.received_at,
            )
        ).first()
    return newer is not None


async def _drop(runtime: Runtime, delivery: Delivery, result: dict[str, Any]) -> None:
    await to_thread.run_sync(_finish, runtime, delivery.id, "dropped", {**result, "dropped": "newer message"})
    runtime.audit.record(
        tenant=delivery.tenant,
        type="helpdesk.draft_dropped",
        actor=f"integration:{delivery.integration_id}",
        conversation_id=delivery.conversation_id,
        payload={
            "delivery_id": delivery.id,
            "ticket": delivery.external_id,
            "reason": "newer customer message",
        },
    )


# --- 3. the note ---------------------------------------------------------------------------------------


def _note(runtime: Runtime, delivery: Delivery, result: dict[str, Any]) -> Note:
    draft = ""
    if result.get("message_id") and delivery.conversation_id:
        messages = runtime.conversations.messages(
            tenant=delivery.tenant, conversation_id=delivery.conversation_id, restore=True
        )
        draft = next((m.content for m in messages if m.id == result["message_id"]), "")
    if not draft and result.get("pending_approvals"):
        draft = "(No draft: this ticket waits for a staff decision on the request below.)"
    return render(
        delivery_id=delivery.id,
        draft=draft,
        result={**result, "conversation_id": delivery.conversation_id},
        public_url=runtime.settings.public_url.rstrip("/"),
    )


# --- the delivery row ----------------------------------------------------------------------------------


def _load(runtime: Runtime, delivery_id: str) -> Delivery | None:
    with Session(runtime.engine, expire_on_commit=False) as session:
        return session.get(Delivery, delivery_id)


def _save(runtime: Runtime, delivery_id: str, result: dict[str, Any]) -> None:
    with Session(runtime.engine) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.result = dict(result)
        session.add(row)
        session.commit()


def _finish(runtime: Runtime, delivery_id: str, status: str, result: dict[str, Any]) -> None:
    with Session(runtime.engine) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.status, row.result, row.finished_at = status, dict(result), utcnow()
        session.add(row)
        session.commit()
