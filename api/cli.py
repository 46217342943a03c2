"""The `deskpilot` command: serve, worker, ask, seed, keys, audit, db, integrations, tenant, ingest."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from typing import Annotated, Any

import typer

from api.cli_eval import eval_cmd
from api.cli_integrations import integrations_app
from api.cli_keys import keys_app
from api.cli_knowledge import ingest, search
from api.cli_report import report
from api.cli_tenant import tenant_app
from api.cli_triage import triage_backlog
from api.settings import get_settings

app = typer.Typer(help="Deskpilot support copilot.", no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(help="Inspect the audit log.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.command("eval")(eval_cmd)
app.add_typer(integrations_app, name="integrations")
app.add_typer(tenant_app, name="tenant")
app.command("report")(report)
app.command("triage-backlog")(triage_backlog)


def _engine() -> Any:
    from api.db import create_schema, make_engine

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.effective_database_url)
    create_schema(engine)
    return engine


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: DESKPILOT_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: DESKPILOT_PORT or 8000.")] = None,
) -> None:
    """Start the HTTP API. On first start with no keys, prints a bootstrap admin key once."""
    from api.memory import serve_tuning

    serve_tuning()  # before the imports: glibc malloc and the collector for a server (api/memory.py)
    import uvicorn

    from api.auth import create_key, has_any_key
    from api.edge import json_http_protocol
    from api.main import create_app

    settings = get_settings()
    engine = _engine()
    if not has_any_key(engine):
        _, secret = create_key(
            engine, tenant="default", scopes=["agent", "integration", "admin", "approve"], name="bootstrap"
        )
        typer.secho(
            "No API keys yet: created a bootstrap key for tenant 'default' (shown only once):",
            fg="yellow",
            err=True,
        )
        typer.echo(secret)
    engine.dispose()
    if settings.offline:
        typer.secho(
            "No OPENAI_API_KEY: answering with the offline engine (degraded mode).", fg="yellow", err=True
        )
    # The app itself believes X-Forwarded-* only from DESKPILOT_FORWARDED_ALLOW_IPS, and uvicorn's own
    # answer to a request it cannot parse is JSON like the app's (api/edge.py).
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=False,
        http=json_http_protocol(),
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs at once (default: DESKPILOT_JOB_CONCURRENCY).")
    ] = None,
) -> None:
    """Run background jobs in this process until SIGTERM; start several to scale out.

    With DESKPILOT_REDIS_URL it takes jobs from the Redis stream as `serve` enqueues them; either way it
    also polls the jobs table for due retries and for jobs a killed process was holding."""
    from api.jobs.worker import run_worker

    settings = get_settings()
    _engine().dispose()  # the schema is current before any job is claimed
    run_worker(settings.model_copy(update={"job_concurrency": concurrency}) if concurrency else settings)


@app.command()
def seed(
    tenant: Annotated[
        str, typer.Option(help="Tenant to load the demo shop and help centre into.")
    ] = "default",
    knowledge: Annotated[bool, typer.Option(help="Also load the bundled help-centre articles.")] = True,
) -> None:
    """Load the demo shop (customers, orders, refunds, tickets) and the demo knowledge base."""
    from tools.demo_data import seed_demo

    engine = _engine()
    report = seed_demo(engine, tenant=tenant, today=date.today())
    if report.created:
        typer.echo(
            f"demo store for tenant {tenant}: {report.customers} customers, {report.orders} orders, "
            f"{report.refunds} refunds, {report.tickets} tickets"
        )
        for customer, orders in report.examples.items():
            typer.echo(
                f"  try {customer}: " + ", ".join(f"{label} {number}" for label, number in orders.items())
            )
    else:
        typer.echo(f"demo store for tenant {tenant}: already loaded")
    if knowledge:
        from api.runtime import build_knowledge
        from knowledge import DEMO_DOCS_DIR
        from knowledge.ingest import ingest_paths

        kb = build_knowledge(get_settings())
        result = ingest_paths(kb, tenant, [DEMO_DOCS_DIR])
        typer.echo(f"knowledge base: {result.summary()}")


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="What the customer says.")],
    customer: Annotated[str, typer.Option("--customer", help="Customer id, e.g. CUS-1001.")],
    conversation: Annotated[str | None, typer.Option(help="Continue this conversation.")] = None,
    tenant: Annotated[str, typer.Option()] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the full turn as JSON.")] = False,
) -> None:
    """Run one turn in-process through the same run_turn as the API."""
    from api.errors import ApiError
    from api.runtime import open_runtime

    async def run() -> dict[str, Any]:
        async with open_runtime(get_settings()) as runtime:
            service = runtime.conversations
            conversation_id = (
                conversation
                or service.create(tenant=tenant, customer_id=customer, channel="cli", actor="cli").id
            )
            result = await service.send(
                tenant=tenant,
                conversation_id=conversation_id,
                text=text,
                customer_id=customer,
                actor="cli",
                channel="cli",
            )
            return {
                "conversation_id": result.conversation_id,
                "reply": result.reply,
                "citations": result.citations,
                "tool_calls": result.tool_calls,
                "model": result.model,
                "degraded": result.degraded,
                "usage": result.usage,
                "redactions": result.redactions,
                "pending_approval": result.pending_approval,
            }

    try:
        out = asyncio.run(run())
    except ApiError as error:
        typer.secho(f"error: {error.message}", fg="red", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    typer.echo(out["reply"])
    label = f"[{out['model']}{', degraded' if out['degraded'] else ''}] conversation {out['conversation_id']}"
    typer.secho(label, fg="bright_black", err=True)


@audit_app.command("verify")
def audit_verify(tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None) -> None:
    """Check the hash chain; exits 1 naming the first broken event."""
    from api.audit import AuditLog

    result = AuditLog(_engine()).verify(tenant)
    if result.ok:
        typer.echo(f"audit chain intact: {result.checked} events verified")
        return
    typer.secho(
        f"audit chain BROKEN at tenant {result.tenant} event {result.seq}: {result.reason}",
        fg="red",
        err=True,
    )
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (the server also does this at start-up)."""
    _engine().dispose()
    typer.echo("database schema is up to date")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message", help="What changed.")]) -> None:
    """For developers: write a new migration from the difference between the models and the database."""
    from api.migrate import new_revision

    new_revision(_engine(), message)


app.command(help="Ingest files or folders into a tenant's knowledge base.")(ingest)
app.command(help="Search a tenant's knowledge base.")(search)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
