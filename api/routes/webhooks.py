"""POST /v1/webhooks/{provider}/{integration_id}: a helpdesk's signed delivery, acknowledged at once.

Top-down: find the integration (404 alike for unknown and another provider's) -> read at most the body cap
(413) -> verify the signature over the raw bytes (401, no detail) -> the integration's deliveries a minute
(429 with Retry-After: the helpdesk retries later, nothing is accepted) -> parse (400) -> replay check (200
duplicate) -> open the ticket's conversation, match the requester, redact -> the delivery row and its job
in one transaction -> 202 with the delivery id. The job (api.channels.helpdesk.work) does the rest.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.channels.helpdesk import HELPDESKS, JOB_KIND, InboundTicket, Malformed, Unauthorized
from api.deliveries import Delivery, add_delivery, find_delivery
from api.deps import RuntimeDep
from api.errors import ApiError, NotFoundError, PayloadTooLarge
from api.integrations.models import Integration
from api.limits import LimitsDep
from api.runtime import Runtime

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class SignatureRefused(ApiError):
    """Bad, stale or missing: the answer is the same, so a prober learns nothing."""

    status_code = 401
    code = "unauthorized"


log = logging.getLogger(__name__)


@router.post("/{provider}/{integration_id}", status_code=202)
async def receive_delivery(
    provider: str, integration_id: str, request: Request, runtime: RuntimeDep, limits: LimitsDep
) -> JSONResponse:
    """No bearer key: the provider's signature (or Freshdesk's token) is the authentication."""
    integration = runtime.integrations.get(integration_id)
    helpdesk = HELPDESKS.get(provider)
    if integration is None or helpdesk is None or integration.provider != provider:
        raise NotFoundError("integration not found")
    raw = await _read_capped(request, runtime.settings.webhook_max_body_bytes)
    try:
        secrets = runtime.integrations.verification_secrets(integration, helpdesk.secret_name)
        helpdesk.verify(request.headers, raw, secrets, time.time())
    except Unauthorized:
        log.info("webhook %s/%s: signature refused", provider, integration_id)
        raise SignatureRefused("unauthorized") from None
    # Counted once signed, so a stranger who knows the URL cannot spend the helpdesk's minute.
    limits.check_delivery(integration.id)
    try:
        ticket = helpdesk.parse(raw, runtime.integrations.config(integration))
    except Malformed as error:
        raise ApiError(f"malformed {provider} delivery ({error})") from None
    if ticket is None:
        return JSONResponse({"ignored": True}, status_code=200)
    key = helpdesk.delivery_key(request.headers, raw)
    if (seen := await run_in_threadpool(_seen, runtime, integration_id, key)) is not None:
        return JSONResponse({"duplicate": True, "delivery_id": seen}, status_code=200)
    accepted = await _accept(runtime, integration, ticket, key)
    if accepted is None:
        seen = await run_in_threadpool(_seen, runtime, integration_id, key)
        return JSONResponse({"duplicate": True, "delivery_id": seen}, status_code=200)
    return JSONResponse({"delivery_id": accepted.id, "status": "accepted"}, status_code=202)


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes")
    return bytes(body)


def _seen(runtime: Runtime, integration_id: str, key: str) -> str | None:
    with Session(runtime.engine) as session:
        found = find_delivery(session, integration_id=integration_id, delivery_key=key)
        return found.id if found else None


async def _accept(
    runtime: Runtime, integration: Integration, ticket: InboundTicket, key: str
) -> Delivery | None:
    """The conversation, the customer and the redacted text, then the delivery and its job; None: a replay
    that raced this one in."""
    tenant, provider = integration.tenant, integration.provider
    external_id = f"{provider}:{ticket.ticket_id}"
    conversation, created = await run_in_threadpool(
        lambda: runtime.conversations.open(
            tenant=tenant, channel=provider, external_id=external_id, actor=f"integration:{integration.id}"
        )
    )
    customer = (
        await run_in_threadpool(runtime.backend.find_customer_by_email, tenant, ticket.requester_email)
        if ticket.requester_email
        else None
    )
    text = ticket.text[: runtime.settings.max_message_chars]
    if created and ticket.subject:
        text = f"{ticket.subject}\n\n{text}"
    redacted, _ = await runtime.conversations.redact(tenant, conversation.id, text)
    payload: dict[str, Any] = {
        "text": redacted,
        "customer_id": customer.customer_id if customer else None,
    }

    def record() -> Delivery | None:
        delivery = Delivery(
            tenant=tenant,
            integration_id=integration.id,
            provider=provider,
            delivery_key=key,
            external_id=external_id,
            conversation_id=conversation.id,
        )
        with runtime.audit.lock, Session(runtime.engine, expire_on_commit=False) as session:
            if not add_delivery(session, delivery):
                session.rollback()
                return None
            job = runtime.jobs.enqueue(
                session,
                tenant=tenant,
                kind=JOB_KIND,
                payload={"delivery_id": delivery.id, **payload},
                dedupe_key=delivery.id,
            )
            delivery.job_id = job.id
            session.add(delivery)
            runtime.audit.append(
                session,
                tenant=tenant,
                type="webhook.accepted",
                actor=f"integration:{integration.id}",
                conversation_id=conversation.id,
                payload={
                    "delivery_id": delivery.id,
                    "provider": provider,
                    "ticket": external_id,
                    "job_id": job.id,
                },
            )
            session.commit()
        return delivery

    return await run_in_threadpool(record)
