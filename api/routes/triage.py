"""POST /v1/triage: a validated classification (queue, priority, intent, language, sentiment)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session

from agent.pricing import load_price_table
from agent.triage import Triage
from agent.triage_service import TriageService, build_triage_service
from api.auth import Principal
from api.deps import RuntimeDep, require_scope
from api.models import UsageRecord
from api.runtime import Runtime

router = APIRouter(prefix="/v1/triage", tags=["triage"])
IntegrationKey = Annotated[Principal, Depends(require_scope("integration", "admin"))]


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


def get_triage_service(request: Request, runtime: RuntimeDep) -> TriageService:
    """Built on first use and kept for the runtime's lifetime, so its circuit breaker remembers failures."""
    cached = getattr(request.app.state, "triage", None)
    if cached is None or cached[0] is not runtime:
        cached = (runtime, _build(runtime))
        request.app.state.triage = cached
    return cached[1]


TriageServiceDep = Annotated[TriageService, Depends(get_triage_service)]


@router.post("", response_model=TriageOut)
async def triage(body: TriageIn, runtime: RuntimeDep, principal: IntegrationKey,
                 service: TriageServiceDep) -> TriageOut:
    result = await service.classify(body.text, subject=body.subject, tenant=principal.tenant,
                                    actor=principal.key_id)
    with Session(runtime.engine) as session:
        for call in result.usage["calls"]:
            session.add(UsageRecord(tenant=principal.tenant, conversation_id=None, model=call["model"],
                                    input_tokens=call["input_tokens"], cached_tokens=call["cached_tokens"],
                                    output_tokens=call["output_tokens"], cost_usd=call["cost_usd"],
                                    latency_ms=call["latency_ms"]))
        session.commit()
    return TriageOut(triage=result.triage, model=result.model, degraded=result.degraded, usage=result.usage)


def _build(runtime: Runtime) -> TriageService:
    settings = runtime.settings
    secret = settings.openai_api_key
    key = None if settings.offline or secret is None else secret.get_secret_value()
    return build_triage_service(
        api_key=key, model=settings.model, base_url=settings.llm_base_url, timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries, max_tokens=settings.max_output_tokens,
        failure_threshold=settings.breaker_failure_threshold, reset_after_s=settings.breaker_reset_s,
        audit=runtime.audit, redactor=runtime.redactor, prices=load_price_table(settings.price_overrides),
    )
