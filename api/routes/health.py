"""Liveness and readiness probes (no auth: they reveal nothing but up/down)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import Session

from api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


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
