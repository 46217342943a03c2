"""`deskpilot report`: the outcome figures of the last N days, printed, with a small PNG chart by day."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from api.settings import get_settings


def report(
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days back from now.")] = 30,
    tenant: Annotated[str, typer.Option()] = "default",
    chart: Annotated[Path, typer.Option(help="Where to write the PNG chart.")] = Path("deskpilot-report.png"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """What the copilot did: conversations, deflection, handoffs, approvals, drafts, feedback, CSAT, cost."""
    from api.db import create_schema, make_engine
    from api.outcomes import compute

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.effective_database_url)
    create_schema(engine)
    end = datetime.now(UTC)
    try:
        figures = compute(engine, tenant=tenant, start=end - timedelta(days=days), end=end, group_by="day")
    finally:
        engine.dispose()
    write_chart(figures, chart, title=f"Deskpilot, tenant {tenant}, last {days} days")
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
    else:
        typer.echo(render(figures, tenant=tenant, days=days))
    typer.secho(f"chart: {chart}", fg="bright_black", err=True)


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def render(figures: dict[str, Any], *, tenant: str, days: int) -> str:
    t = figures["totals"]
    turns, approvals, drafts = t["turns"], t["approvals"], t["drafts"]
    feedback, csat, cost = t["feedback"], t["csat"], t["cost"]
    median = approvals["median_seconds_to_decision"]
    lines = [
        f"Deskpilot outcomes for {tenant}, last {days} days "
        f"({figures['from'][:10]} to {figures['to'][:10]} UTC)",
        f"  conversations              {t['conversations']}",
        f"  resolved without a human   {t['resolved_without_human']} ({_pct(t['deflection_rate'])})",
        f"  turns                      {turns['total']} ({turns['done']} done, {turns['failed']} failed)",
        f"  handoffs                   {t['handoffs']['total']}"
        + "".join(f"\n    {reason:<24} {n}" for reason, n in t["handoffs"]["by_reason"].items()),
        f"  approvals                  {approvals['proposed']} proposed: {approvals['approved']} approved, "
        f"{approvals['rejected']} rejected, {approvals['expired']} expired, {approvals['pending']} pending"
        + (f"; median {median:.0f} s to a decision" if median is not None else ""),
        f"  drafts                     {drafts['suggested']} suggested, {drafts['used']} used "
        f"({_pct(drafts['used_rate'])})",
        f"  feedback                   {feedback['up']} up, {feedback['down']} down"
        + "".join(f"\n    {r['rating']:<4} {r['count']:>4}  {r['reason']}" for r in feedback["reasons"]),
        f"  CSAT                       {csat['responses']} responses"
        + (
            f", average {csat['average']:.2f}, {_pct(csat['satisfied_share'])} satisfied"
            if csat["responses"]
            else ""
        ),
        f"  cost                       ${cost['cost_usd']:.4f} over {cost['model_calls']} model calls, "
        f"{_pct(cost['cached_share'])} of input tokens cached",
    ]
    return "\n".join(lines)


def write_chart(figures: dict[str, Any], path: Path, *, title: str) -> None:
    """Conversations per day, split into resolved without a human and the rest, with handoffs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = figures.get("groups") or []
    days = [g["day"][5:] for g in groups]
    resolved = [g["resolved_without_human"] for g in groups]
    other = [g["conversations"] - g["resolved_without_human"] for g in groups]
    handoffs = [g["handoffs"]["total"] for g in groups]
    figure, axes = plt.subplots(figsize=(8, 3.5), dpi=100)
    try:
        axes.bar(days, resolved, label="resolved without a human", color="#2a9d8f")
        axes.bar(days, other, bottom=resolved, label="other conversations", color="#b8c4cc")
        axes.plot(days, handoffs, marker="o", color="#e76f51", label="handoffs")
        axes.set_title(title, fontsize=10)
        axes.set_ylabel("per day")
        axes.legend(fontsize=8, loc="upper left")
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)
        if not groups:
            axes.text(
                0.5, 0.5, "no activity in this window", ha="center", va="center", transform=axes.transAxes
            )
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
