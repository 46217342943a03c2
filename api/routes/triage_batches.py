"""POST /v1/triage/batches, GET /v1/triage/batches/{id}: backlog triage through the Batch API or offline."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api import triage_batches
from api.batch_triage import BacklogTicket, ticket_text
from api.deps import IntegrationKey, RuntimeDep
from api.errors import InvalidInput, NotFoundError
from api.limits import TurnSlot
from api.schemas import links

router = APIRouter(prefix="/v1/triage/batches", tags=["triage"])
MAX_TICKETS = (
    1000  # each is redacted before the answer: bigger backlogs go through `deskpilot triage-backlog`
)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tickets: list[BacklogTicket] = Field(min_length=1, max_length=MAX_TICKETS)


class BatchOut(BaseModel):
    id: str
    status: str
    mode: str
    tickets: int
    results: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None


@router.post(
    "",
    status_code=202,
    response_model=BatchOut,
    dependencies=[TurnSlot],
    responses={
        202: links(
            GetBatch=("get_batch_v1_triage_batches__batch_id__get", {"batch_id": "$response.body#/id"})
        )
    },
)
async def create_batch(body: BatchIn, runtime: RuntimeDep, principal: IntegrationKey) -> BatchOut:
    """Queues the tickets (redacted first) for triage; poll GET /v1/triage/batches/{id} for the results.
    Refused (429) like a turn when the tenant's daily quota is spent or its turn slots are taken; the
    request holds one slot while its tickets are redacted."""
    ids = [t.id for t in body.tickets]
    if len(set(ids)) != len(ids):
        raise InvalidInput("ticket ids must be unique within a batch")
    scope = f"triage-batch-{uuid.uuid4().hex}"  # placeholders of their own, apart from any conversation
    tickets = [
        {"id": t.id, "text": (await runtime.conversations.redact(principal.tenant, scope, ticket_text(t)))[0]}
        for t in body.tickets
    ]
    batch = triage_batches.create(runtime, tenant=principal.tenant, tickets=tickets, actor=principal.key_id)
    return BatchOut(id=batch.id, status=batch.status, mode=batch.mode, tickets=len(tickets))


@router.get("/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: str, runtime: RuntimeDep, principal: IntegrationKey) -> BatchOut:
    batch = triage_batches.get(runtime, tenant=principal.tenant, batch_id=batch_id)
    if batch is None:
        raise NotFoundError(f"batch {batch_id} not found")
    done = batch.status == "done"
    return BatchOut(
        id=batch.id,
        status=batch.status,
        mode=batch.mode,
        tickets=len(batch.tickets),
        results=batch.results if done else None,
        usage=batch.usage if done else None,
    )
