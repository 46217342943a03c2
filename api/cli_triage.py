"""`deskpilot triage-backlog FILE.jsonl`: a helpdesk's backlog triaged through the Batch API, or offline."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.settings import get_settings


def triage_backlog(
    file: Annotated[Path, typer.Argument(help='JSONL, one ticket a line: {"id", "subject"?, "text"}.')],
    tenant: Annotated[str, typer.Option(help="The tenant the tickets belong to.")] = "default",
    out: Annotated[
        Path | None, typer.Option(help="Where to write the results (default: FILE.triage.jsonl).")
    ] = None,
    poll_s: Annotated[float | None, typer.Option(help="Seconds between batch status reads.")] = None,
) -> None:
    """Classify every ticket (queue, priority, intent, language, sentiment) at the Batch API's half price;
    offline or without a key, the offline classifier does it here. Tickets are redacted first."""
    from api.batch_triage import BacklogTicket, ticket_text

    tickets: list[BacklogTicket] = []
    for number, line in enumerate(file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            tickets.append(BacklogTicket.model_validate_json(line))
        except ValidationError as error:
            typer.secho(f"{file}:{number}: not a ticket ({error.error_count()} problems)", fg="red", err=True)
            raise typer.Exit(2) from None
    if len({t.id for t in tickets}) != len(tickets):
        typer.secho("ticket ids must be unique", fg="red", err=True)
        raise typer.Exit(2)
    target = out or file.with_suffix(".triage.jsonl")
    summary = asyncio.run(_run(tenant, [(t.id, ticket_text(t)) for t in tickets], target, poll_s))
    typer.echo(json.dumps(summary))


async def _run(
    tenant: str, tickets: list[tuple[str, str]], target: Path, poll_s: float | None
) -> dict[str, Any]:
    from api import triage_batches
    from api.batch_triage import classify_backlog_offline, collect, submit, wait
    from api.runtime import open_runtime

    settings = get_settings()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with open_runtime(settings, knowledge=None) as runtime:
        with Progress(*columns, transient=False) as bar:
            scope = f"triage-backlog-{uuid.uuid4().hex}"
            redacting = bar.add_task("redacting", total=len(tickets))
            redacted = []
            for ticket_id, text in tickets:
                redacted.append((ticket_id, (await runtime.conversations.redact(tenant, scope, text))[0]))
                bar.advance(redacting)
            batch = triage_batches.create(
                runtime,
                tenant=tenant,
                tickets=[{"id": i, "text": t} for i, t in redacted],
                actor="cli",
                enqueue=False,
            )
            task = bar.add_task(
                "batch" if batch.mode == "batch" else "classifying offline", total=len(tickets)
            )

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total or len(tickets))

            if batch.mode == "offline":
                result = classify_backlog_offline(redacted, progress)
            else:
                client = triage_batches.openai_client(settings)
                try:
                    batch_id = await submit(client, redacted, settings.model)
                    bar.update(task, description=f"batch {batch_id}")
                    done = await wait(
                        client,
                        batch_id,
                        poll_s=poll_s or settings.triage_batch_poll_s,
                        timeout_s=86_400 * 2,
                        progress=progress,
                    )
                    assert done is not None
                    if done.status != "completed" and not done.output_file_id:
                        raise typer.Exit(1)
                    result = await collect(client, done, redacted, settings.model)
                finally:
                    await client.close()
            bar.update(task, completed=len(tickets))
        triage_batches.apply(runtime, batch, result)
    with target.open("w") as output:
        for item in result.results:
            output.write(json.dumps(item.public()) + "\n")
    return {
        "batch_id": batch.id,
        "mode": result.mode,
        "provider_batch_id": result.batch_id,
        "tickets": len(result.results),
        "fallbacks": sum(1 for r in result.results if r.error),
        "usage": result.usage,
        "results": str(target),
    }
