"""The FastAPI app: routers, error handlers, and the runtime built once in lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import memory
from api.edge import install_edge
from api.errors import document_errors, install_error_handlers
from api.limits import Limits
from api.maintenance import maintenance
from api.observability import RequestContextMiddleware, configure_logging, configure_tracing
from api.routes import (
    approvals,
    audit,
    conversations,
    customers,
    feedback,
    health,
    integrations,
    jobs,
    keys,
    knowledge,
    openai_compat,
    outcomes,
    sidebar,
    slack,
    staff,
    tenant,
    tickets,
    triage,
    triage_batches,
    usage,
    webhooks,
)
from api.routes.docs import install_docs
from api.runtime import open_runtime, warm_up
from api.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, **runtime_overrides: Any) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    configure_tracing(settings.otel_exporter_otlp_endpoint, service_name=settings.otel_service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_runtime(settings, **runtime_overrides) as runtime,
            runtime.jobs.serve(runtime),
            maintenance(runtime),
        ):
            runtime.audit.listeners.append(runtime.conversations.metrics.observe_audit)
            # Ready means a turn is served at full speed: its one-off costs are paid before the app answers.
            await run_in_threadpool(warm_up, runtime, settings.warm_up_tenants)
            memory.settle()
            trimmer = asyncio.create_task(memory.trim_periodically())
            app.state.runtime = runtime
            try:
                yield
            finally:
                trimmer.cancel()

    app = FastAPI(
        title="Deskpilot",
        version="0.1.0",
        summary="Support copilot: grounded answers, validated tools, PII redaction, audit log.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by install_docs, not from a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(conversations.router)
    app.include_router(approvals.router)
    app.include_router(customers.router)
    app.include_router(audit.router)
    app.include_router(usage.router)
    app.include_router(outcomes.router)
    app.include_router(triage.router)
    app.include_router(knowledge.router)
    app.include_router(integrations.router)
    app.include_router(jobs.router)
    app.include_router(feedback.router)
    app.include_router(tenant.router)
    app.include_router(keys.router)
    app.include_router(webhooks.router)
    app.include_router(tickets.router)
    app.include_router(openai_compat.router)
    app.include_router(triage_batches.router)
    app.include_router(slack.router)
    app.include_router(staff.router)
    app.include_router(sidebar.router)
    install_docs(app)
    document_errors(app)  # after every router: the error answers in each /v1 operation's OpenAPI entry
    app.state.limits = Limits(settings)
    install_edge(app, settings)  # body cap, security headers, CORS, trusted proxies (api/edge.py)
    app.add_middleware(RequestContextMiddleware)  # added last, so outermost: every answer has an id
    return app
