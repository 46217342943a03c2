"""POST /v1/triage: a validated classification (queue, priority, intent, language, sentiment)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session

from agent.triage import Triage
from agent.triage_service import TriageService
from api.deps import IntegrationKey, RuntimeDep
from api.limits import TurnSlot
from api.models import UsageRecord

router = APIRouter(prefix="/v1/triage", tags=["triage"])


class TriageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000, description="The customer's message.")
    subject: str | None = Field(default=None, max_length=500, description="E-mail or ticket subject, if any.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class TriageOut(BaseModel):
    triage: Triage
    model: str
    degraded: bool
    usage: dict[str, Any]


def get_triage_service(runtime: RuntimeDep) -> TriageService:
    return runtime.triage


TriageServiceDep = Annotated[TriageService, Depends(get_triage_service)]


@router.post("", response_model=TriageOut, dependencies=[TurnSlot])
async def triage(
    body: TriageIn, runtime: RuntimeDep, principal: IntegrationKey, service: TriageServiceDep
) -> TriageOut:
    result = await service.classify(
        body.text, subject=body.subject, tenant=principal.tenant, actor=principal.key_id
    )
    with Session(runtime.engine) as session:
        session.add_all(UsageRecord.for_calls(principal.tenant, None, result.usage))
        session.commit()
    return TriageOut(triage=result.triage, model=result.model, degraded=result.degraded, usage=result.usage)
