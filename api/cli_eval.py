"""`deskpilot eval`: run the evaluation suites on public data and write results.json, report.md and plots."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from api.settings import get_settings

SUITES: tuple[str, ...] = ("retrieval", "tools", "pii", "injection")
QUICK_PII_SENTENCES = 300


def eval_cmd(
    suite: Annotated[str, typer.Option(help="retrieval, tools, pii, injection or all.")] = "all",
    model: Annotated[
        str, typer.Option(help="offline, or a model id (needs OPENAI_API_KEY); default: the configured one.")
    ] = "",
    out: Annotated[Path, typer.Option(help="Folder for results.json, report.md and the plots.")] = Path(
        "report"
    ),
    data: Annotated[Path | None, typer.Option(help="The eval-data folder (../shared/eval-data).")] = None,
    tasks: Annotated[
        Path | None,
        typer.Option(
            help="Your own tasks: retrieval questions (JSON or JSONL) over the bundled help centre, or "
            "tau2 retail tasks (tau2's task format) for the tools suite; with --suite all, the file's "
            "format decides."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Tools: only the first N tasks (the model-driven run costs tokens).")
    ] = None,
    attacks_per_category: Annotated[
        int | None, typer.Option(help="Injection: at most this many attacks per category (default all).")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            help=f"CI's run: tools in full, retrieval on the demo set only, PII on the first "
            f"{QUICK_PII_SENTENCES} sentences (ours only), one injection attack per category; "
            "results.json says so."
        ),
    ] = False,
) -> None:
    """Evaluate retrieval (tau2 banking, demo KB), tools (tau2 retail), PII redaction and injection."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from api.eval import report
    from api.eval.data import DEFAULT_DATA_DIR

    chosen = SUITES if suite == "all" else (suite,)
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        raise typer.BadParameter(f"unknown suite {unknown[0]!r}: use {', '.join(SUITES)} or all")
    settings = get_settings()
    engine = "offline" if model == "offline" or settings.offline else (model or settings.model)
    data_dir = (data or DEFAULT_DATA_DIR).resolve()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": engine,
        "data_dir": str(data_dir),
        "suites": {},
    }
    if quick:
        results["quick"] = {
            "retrieval": "demo set only (tau2 banking not embedded)",
            "pii": f"first {QUICK_PII_SENTENCES} sentences, ours only (no stock Presidio)",
            "injection": "one attack per category",
        }
        attacks_per_category = attacks_per_category or 1
    if engine == "offline":
        typer.secho("No model key (or --model offline): the offline engine answers.", fg="yellow", err=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        tasks_by_label: dict[str, Any] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks_by_label:
                tasks_by_label[label] = bar.add_task(label, total=total)
            bar.update(tasks_by_label[label], completed=done, total=total)

        from api.eval import tools as tools_suite

        tools_tasks = (
            tasks
            if tasks is not None
            and (suite == "tools" or (suite == "all" and tools_suite.is_tau2_tasks(tasks)))
            else None
        )
        retrieval_tasks = None if tools_tasks is not None else tasks
        for name in chosen:
            if name == "retrieval":
                results["suites"]["retrieval"] = _retrieval(data_dir, retrieval_tasks, progress, quick)
            elif name == "tools":
                client = None if engine == "offline" else _openai_client(settings)
                results["suites"]["tools"] = tools_suite.run(
                    data_dir,
                    progress,
                    tasks_path=tools_tasks,
                    model=None if engine == "offline" else engine,
                    client=client,
                    limit=limit,
                )
            elif name == "pii":
                progress("pii: presidio-research synth set (ours, then stock)", 0, 1)
                from api.eval import pii

                results["suites"]["pii"] = pii.run(
                    data_dir, stock=not quick, limit=QUICK_PII_SENTENCES if quick else None
                )
                progress("pii: presidio-research synth set (ours, then stock)", 1, 1)
            elif name == "injection":
                from api.eval import injection

                results["suites"]["injection"] = asyncio.run(
                    injection.run(data_dir, engine, attacks_per_category, progress)
                )
    for path in report.write(results, out):
        typer.echo(f"wrote {path}")


def _openai_client(settings: Any) -> Any:
    """The configured endpoint (OPENAI_API_KEY, DESKPILOT_LLM_BASE_URL), as the product's model uses it."""
    from openai import OpenAI

    return OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.llm_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


def _retrieval(data_dir: Path, tasks: Path | None, progress: Any, quick: bool = False) -> dict[str, Any]:
    from api.eval import retrieval
    from api.eval.data import DEMO_QUESTIONS
    from knowledge import DEMO_DOCS_DIR, open_knowledge_base

    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="deskpilot-eval-") as tmp:
        chroma = Path(tmp) / "chroma"
        kb = open_knowledge_base(chroma_path=chroma, chroma_url=None, models_dir=settings.models_dir)
        if not quick:
            return retrieval.run(kb, data_dir, DEMO_DOCS_DIR, DEMO_QUESTIONS, tasks=tasks, progress=progress)
        # Quick: a data folder without tau2 banking, so only the demo set (or the team's own) is measured.
        result = retrieval.run(kb, Path(tmp), DEMO_DOCS_DIR, DEMO_QUESTIONS, tasks=tasks, progress=progress)
        if "tau2-banking" in result["datasets"]:
            result["datasets"]["tau2-banking"] = {"skipped": "quick run"}
        return result
