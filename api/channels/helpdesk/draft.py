"""Phase 1 of a delivery's job: the customer's message through the conversation service as a staff draft
(`as_draft`: reads run, money-moving tools only become approvals), then triage; idempotent across re-runs.

What it returns goes into `Delivery.result`, so it holds ids, labels and citations, never the draft's text
or any PII: the note is rendered from the stored message when it is posted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from anyio import to_thread
from sqlmodel import Session, col, select

from agent.turns import TurnResult
from api.deliveries import Delivery
from api.errors import ApiError, ConflictError
from api.jobs import RetryJob
from api.models import Message, Turn, UsageRecord
from api.runtime import Runtime
from api.turns import TurnFailed

log = logging.getLogger(__name__)


async def make_draft(
    runtime: Runtime,
    delivery: Delivery,
    payload: dict[str, Any],
    result: dict[str, Any],
    *,
    save: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """The draft's ids, citations, approvals and the triage; `save` records progress (a failed turn's id)."""
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
        await to_thread.run_sync(save, {**result, "failed_turn": error.details["turn_id"]})
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
            session.add_all(UsageRecord.for_calls(delivery.tenant, delivery.conversation_id, triaged.usage))
            session.commit()

    if triaged.usage.get("calls"):
        await to_thread.run_sync(record_usage)
    return {"triage": triaged.triage.model_dump(), "triage_model": triaged.model}
