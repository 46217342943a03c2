"""Liveness, readiness and metrics (no auth: they reveal no customer or tenant data)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlmodel import Session

from api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus exposition; labels carry models, tools and channels, never customer data."""
    return Response(runtime.conversations.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with Session(runtime.engine) as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["database"] = f"error: {type(error).__name__}"
    checks["knowledge"] = "ok" if runtime.knowledge is not None else "disabled"
    checks["model"] = "offline" if runtime.model.primary == "deskpilot-offline" else runtime.model.primary
    ready = checks["database"] == "ok"
    return JSONResponse(
        {
            "status": "ready" if ready else "not_ready",
            "checks": checks,
            "degraded": checks["model"] == "offline",
        },
        status_code=200 if ready else 503,
    )
