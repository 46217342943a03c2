"""Liveness, readiness and metrics (no auth: they reveal no customer or tenant data).

`/readyz` checks each dependency and answers 503 when one the service cannot work without is down: the
database, and the knowledge base when one is configured. A Redis that is down or a model whose
breaker is open degrade the service without stopping it (jobs wait for the table poll, the fallback
chain answers), so they are reported and leave it ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from agent.breaker import BreakerState
from agent.offline import OFFLINE_MODEL_NAME
from api.deps import RuntimeDep
from api.runtime import Runtime

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 3.0
REQUIRED = ("database", "knowledge")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus exposition; labels carry models, tools and channels, never customer data."""
    return Response(runtime.conversations.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    database, knowledge, jobs = await asyncio.gather(
        _probe(lambda: _database(runtime)),
        _probe(lambda: _knowledge(runtime)) if runtime.knowledge is not None else _constant("disabled"),
        _redis(runtime.settings.redis_url) if runtime.settings.redis_url else _constant("in_process"),
    )
    model, models = _models(runtime)
    checks = {"database": database, "knowledge": knowledge, "jobs": jobs, "model": model}
    ready = all(checks[name] in ("ok", "disabled") for name in REQUIRED)
    return JSONResponse(
        {
            "status": "ready" if ready else "not_ready",
            "checks": checks,
            "models": models,
            "degraded": model != "ok" or jobs not in ("ok", "in_process"),
        },
        status_code=200 if ready else 503,
    )


async def _probe(check: Callable[[], None]) -> str:
    try:
        await asyncio.wait_for(run_in_threadpool(check), CHECK_TIMEOUT_S)
    except TimeoutError:
        return "error: timeout"
    except Exception as error:  # noqa: BLE001  (the type only: a driver's message can carry a URL)
        return f"error: {type(error).__name__}"
    return "ok"


async def _constant(value: str) -> str:
    return value


def _database(runtime: Runtime) -> None:
    with Session(runtime.engine) as session:
        session.execute(text("SELECT 1"))


def _knowledge(runtime: Runtime) -> None:
    runtime.knowledge.client.heartbeat()  # a Chroma server answers, or the embedded store opens


async def _redis(url: str) -> str:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S)
    try:
        await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001
        return f"error: {type(error).__name__}"
    finally:
        await client.aclose()
    return "ok"


def _models(runtime: Runtime) -> tuple[str, list[dict[str, Any]]]:
    """The fallback chain's breakers: `ok` while the primary model's is closed."""
    links = [{"name": link.name, "breaker": str(link.breaker.state)} for link in runtime.model.links]
    if runtime.model.primary == OFFLINE_MODEL_NAME:
        return "offline", links
    if links[0]["breaker"] == BreakerState.CLOSED:
        return "ok", links
    answering = next(
        (link["name"] for link in links if link["breaker"] != BreakerState.OPEN), OFFLINE_MODEL_NAME
    )
    return f"degraded: {links[0]['name']} breaker {links[0]['breaker']}, answering with {answering}", links
