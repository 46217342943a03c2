"""`deskpilot ingest` and `deskpilot search`: the knowledge base from the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from knowledge.store import KnowledgeBase


def _open() -> KnowledgeBase:
    from api.runtime import build_knowledge
    from api.settings import get_settings

    kb: KnowledgeBase = build_knowledge(get_settings())
    return kb


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (read recursively).")],
    tenant: Annotated[
        str, typer.Option(help="Tenant whose knowledge base receives the documents.")
    ] = "default",
) -> None:
    """Ingest Markdown, HTML, text, PDF and JSON (title+content) files; re-runs change only what changed."""
    from knowledge.ingest import ingest_paths

    report = ingest_paths(_open(), tenant, paths, progress=True)
    typer.echo(f"tenant {tenant}: {report.summary()}")
    for skipped in report.skipped:
        typer.secho(f"  skipped {skipped.path}: {skipped.reason}", fg="yellow", err=True)
    if report.documents == 0 and report.skipped:
        raise typer.Exit(1)


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    tenant: Annotated[str, typer.Option(help="Tenant whose knowledge base is searched.")] = "default",
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50, help="How many passages.")] = 10,
    json_output: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Hybrid search (vector + keyword) of a tenant's knowledge base, with citation data."""
    passages = _open().search(tenant, query, k=k)
    if json_output:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in passages], indent=2, ensure_ascii=False))
        return
    if not passages:
        typer.echo(f"no passages found for tenant {tenant}")
        return
    for rank, passage in enumerate(passages, start=1):
        where = f"{passage.title} > {passage.section}" if passage.section else passage.title
        flag = typer.style("  [FLAGGED: contains instructions]", fg="red") if passage.flagged else ""
        typer.echo(f"{rank:>2}. {passage.score:.4f}  {where}{flag}")
        typer.echo(f"    {passage.source}  ({passage.chunk_id})")
        snippet = " ".join(passage.text.split())
        typer.echo(textwrap.indent(textwrap.fill(textwrap.shorten(snippet, 300), 100), "    "))
