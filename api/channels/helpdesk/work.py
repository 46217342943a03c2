"""The job behind one accepted delivery: draft and triage the customer's message, post one internal note.

Idempotent across crashes, keyed on the delivery: each phase records its outcome in `Delivery.result`
before the next starts, so a re-run skips what is done.
1. draft (api.channels.helpdesk.draft): the customer's redacted message as a staff draft, then triage;
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

from api.channels.helpdesk import HELPDESKS, JOB_KIND
from api.channels.helpdesk.base import Note
from api.channels.helpdesk.draft import make_draft
from api.channels.helpdesk.notes import already_posted, render, send
from api.deliveries import Delivery
from api.jobs import DeadJob, Job, JobContext, job_handler
from api.models import utcnow
from api.runtime import Runtime

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
        result.update(
            await make_draft(
                runtime, delivery, job.payload, result, save=lambda r: _save(runtime, delivery.id, r)
            )
        )
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
