"""Alerts-only mode: each new pending approval and handoff of the tenant, from any channel, becomes one
`slack.alert` job for the integration's alerts channel.

A sweep every `slack_alerts_poll_s` finds them (pending approvals; `conversation.needs_human` audit
events) and records one delivery per item, keyed on the approval id or the audit event id, with its
job, so any number of processes may sweep and each item is posted once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.channels.slack.app import CHANNEL
from api.deliveries import Delivery, add_delivery
from api.integrations import Integration
from api.models import Approval, AuditEvent
from api.runtime import Runtime

log = logging.getLogger(__name__)


def alerts_integrations(runtime: Runtime) -> list[Integration]:
    with Session(runtime.engine, expire_on_commit=False) as session:
        rows = session.exec(select(Integration).where(Integration.provider == CHANNEL)).all()
    return [
        row for row in rows if row.config.get("mode") == "alerts_only" and row.config.get("alerts_channel")
    ]


def sweep_alerts(runtime: Runtime) -> int:
    """Enqueues the alerts not posted yet; returns how many."""
    made = 0
    for integration in alerts_integrations(runtime):
        for key, payload in _candidates(runtime, integration):
            made += _enqueue(runtime, integration, key, payload)
    return made


def _candidates(runtime: Runtime, integration: Integration) -> list[tuple[str, dict[str, Any]]]:
    since = integration.created_at
    with Session(runtime.engine) as session:
        approvals = session.exec(
            select(Approval.id).where(
                Approval.tenant == integration.tenant,
                Approval.status == "pending",
                col(Approval.created_at) >= since,
            )
        ).all()
        handoffs = session.exec(
            select(AuditEvent).where(
                AuditEvent.tenant == integration.tenant,
                AuditEvent.type == "conversation.needs_human",
                col(AuditEvent.created_at) >= since,
            )
        ).all()
        items = [(f"alert:approval:{a}", {"alert": "approval", "approval_id": a}) for a in approvals] + [
            (
                f"alert:handoff:{event.id}",
                {
                    "alert": "handoff",
                    "conversation_id": event.conversation_id,
                    "reason": event.payload.get("reason_category"),
                },
            )
            for event in handoffs
        ]
        known = set(
            session.exec(
                select(Delivery.delivery_key).where(
                    Delivery.integration_id == integration.id,
                    col(Delivery.delivery_key).in_([key for key, _ in items]),
                )
            ).all()
        )
    return [(key, payload) for key, payload in items if key not in known]


def _enqueue(runtime: Runtime, integration: Integration, key: str, payload: dict[str, Any]) -> int:
    with Session(runtime.engine) as session:
        delivery = Delivery(
            tenant=integration.tenant,
            integration_id=integration.id,
            provider=CHANNEL,
            delivery_key=key,
            conversation_id=payload.get("conversation_id"),
        )
        if not add_delivery(session, delivery):
            session.rollback()
            return 0  # another process took it
        job = runtime.jobs.enqueue(
            session,
            tenant=integration.tenant,
            kind="slack.alert",
            payload={**payload, "integration_id": integration.id, "delivery_id": delivery.id},
            dedupe_key=f"{integration.id}:{key}",
        )
        delivery.job_id = job.id
        session.add(delivery)
        session.commit()
        return 1


@asynccontextmanager
async def alerts_sweeper(runtime: Runtime) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            try:
                await run_in_threadpool(sweep_alerts, runtime)
            except Exception as error:  # noqa: BLE001 - the next tick tries again
                log.warning("slack alerts sweep failed: %s", type(error).__name__)
            await asyncio.sleep(runtime.settings.slack_alerts_poll_s)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
