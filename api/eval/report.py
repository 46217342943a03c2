"""The evaluation's outputs: results.json, report.md, PNG plots (recall@k, PII recall per type, attacks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLOT_DPI = 110


def write(results: dict[str, Any], out: Path) -> list[Path]:
    """Write everything under `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "results.json"]
    files[0].write_text(json.dumps(results, indent=2, default=str))
    suites = results["suites"]
    plots: dict[str, Path] = {}
    if "datasets" in suites.get("retrieval", {}):
        plots["retrieval"] = _plot_retrieval(suites["retrieval"], out / "retrieval_recall_at_k.png")
    if "analyzers" in suites.get("pii", {}):
        plots["pii"] = _plot_pii(suites["pii"], out / "pii_recall_by_type.png")
    if "by_category" in suites.get("injection", {}):
        plots["injection"] = _plot_injection(suites["injection"], out / "injection_by_category.png")
    report = out / "report.md"
    report.write_text(markdown(results, {k: p.name for k, p in plots.items()}))
    return [*files, *plots.values(), report]


# --- Markdown --------------------------------------------------------------------------------------
def markdown(results: dict[str, Any], plots: dict[str, str]) -> str:
    lines = ["# Deskpilot evaluation", ""]
    lines.append(f"- date: {results['started_at']}, engine: {results['engine']}")
    if results["engine"] == "offline":
        lines.append("- no model key: replies come from the built-in offline engine (`deskpilot-offline`)")
    lines.append(f"- data: `{results['data_dir']}`")
    if results.get("quick"):
        lines.append("- quick run: " + "; ".join(f"{k}: {v}" for k, v in results["quick"].items()))
    lines.append("")
    suites = results["suites"]
    if "retrieval" in suites:
        lines += _retrieval_md(suites["retrieval"], plots.get("retrieval"))
    if "tools" in suites:
        lines += _tools_md(suites["tools"])
    if "pii" in suites:
        lines += _pii_md(suites["pii"], plots.get("pii"))
    if "injection" in suites:
        lines += _injection_md(suites["injection"], plots.get("injection"))
    return "\n".join(lines) + "\n"


def _row(name: str, m: dict[str, Any]) -> str:
    r = m["recall"]
    return f"| {name} | {_get(r, 5):.3f} | {_get(r, 10):.3f} | {m['mrr']:.3f} |"


def _get(recall: dict[Any, float], k: int) -> float:
    return float(recall.get(k, recall.get(str(k), 0.0)))


def _retrieval_md(suite: dict[str, Any], plot: str | None) -> list[str]:
    lines = ["## Retrieval", ""]
    for name, data in suite["datasets"].items():
        if "skipped" in data:
            lines += [f"{name}: skipped ({data['skipped']})", ""]
            continue
        parts = ["all"] if "split" not in data else ["all", "train", "held_out"]
        for part in parts:
            title = f"### {name}, {part}"
            if part != "all":
                title += f" ({data['split'][part]} tasks, split seed {data['split']['seed']})"
            else:
                title += f" ({data['cases']} cases)"
            lines += [title, "", "| variant | recall@5 | recall@10 | MRR |", "|---|---|---|---|"]
            ceiling = None
            for variant, m in data["variants"].items():
                if part in m:
                    lines.append(_row(variant, m[part]))
                    ceiling = m[part]["ceiling"]
            if ceiling is not None:
                lines.append(f"| ceiling | {_get(ceiling, 5):.3f} | {_get(ceiling, 10):.3f} | |")
            lines.append("")
        feedback = data["variants"].get("hybrid+title+feedback")
        if feedback:
            lines += [
                f"Feedback: nearest past tasks of the tuning half only ({feedback['params']}), "
                "chosen on the tuning half (each task left out of its own history).",
                "",
            ]
    if plot:
        lines += [f"![recall@k]({plot})", ""]
    return lines


def _tools_md(suite: dict[str, Any]) -> list[str]:
    lines = ["## Tools (tau2 retail)", ""]
    if "skipped" in suite:
        return [*lines, f"skipped ({suite['skipped']})", ""]
    agreement = suite["agreement"]
    lines += [
        f"Offline replay of the ground-truth actions of {suite['tasks']} tasks ({suite['actions']} actions) "
        "through our tools and policy code; writes auto-approved by the eval "
        f"({suite['approvals_granted_by_eval']} approvals).",
        "",
        f"- accepted: {agreement.get('accepted', 0)} ({suite['accepted']:.3f})",
        f"- failed as tau2's own tools fail too (unknown id or e-mail, a rule tau2 checks): "
        f"{agreement.get('error in tau2 too', 0)}",
        "- disagreements: "
        + str(sum(v for k, v in agreement.items() if k not in ("accepted", "error in tau2 too"))),
        "- forbidden variants of accepted writes: "
        + ", ".join(f"{v} {k}" for k, v in suite["forbidden_variants"].items()),
        "- the same, approved without the check (the store's own policy check alone): "
        + ", ".join(f"{v} {k}" for k, v in suite.get("forbidden_variants_approved_unchecked", {}).items()),
        _model_run_line(suite),
        "",
        "| tool | " + " | ".join(suite["outcomes"]) + " |",
        "|---|" + "---|" * len(suite["outcomes"]),
    ]
    for tool, counts in suite["by_tool"].items():
        lines.append(f"| {tool} | " + " | ".join(str(counts.get(o, 0)) for o in suite["outcomes"]) + " |")
    lines.append("")
    return lines


def _model_run_line(suite: dict[str, Any]) -> str:
    reference = suite["reference"]["tau_bench_gpt4o_retail_pass1"]
    run = suite.get("model_run") or {}
    if "pass^1" not in run:
        reason = run.get("not_run", "no model")
        return (
            f"- with a model (simulated customer, end-state hash, pass^1): not run ({reason}); "
            f"tau-bench's published gpt-4o retail pass^1 is {reference}"
        )
    return (
        f"- with a model: {run['model']} as the agent, {run['user_model']} as the simulated customer, "
        f"{run['tasks']} tasks: pass^1 {run['pass^1']:.3f} (end state matches: {run['db_match']:.3f}); "
        f"tau-bench's published gpt-4o retail pass^1 is {reference}"
    )


def _pii_md(suite: dict[str, Any], plot: str | None) -> list[str]:
    lines = ["## PII redaction", ""]
    if "skipped" in suite:
        return [*lines, f"skipped ({suite['skipped']})", ""]
    lines += [
        f"{suite['samples']} sentences, {suite['spans']} labelled spans (presidio-research synth set v2).",
        "",
        "| analyzer | recall (personal) | recall (all) | precision | F2 (personal) |",
        "|---|---|---|---|---|",
    ]
    for name, a in suite["analyzers"].items():
        lines.append(
            f"| {name} | {a['recall_personal']:.3f} | {a['recall_all']:.3f} | {a['precision']:.3f} | "
            f"{a['f2_personal']:.3f} |"
        )
    lines.append("")
    if plot:
        lines += [f"![PII recall per type]({plot})", ""]
    return lines


def _injection_md(suite: dict[str, Any], plot: str | None) -> list[str]:
    lines = ["## Prompt injection", ""]
    if "skipped" in suite:
        return [*lines, f"skipped ({suite['skipped']})", ""]
    lines += [
        f"{suite['runs']} runs (BIPIA attacks plus Deskpilot's own, in a help article, a ticket body and "
        f"an order's item name), answered by {', '.join(suite['answered_by'])}.",
        "",
        f"- attack success rate: {suite['attack_success']:.3f}",
        "- sensitive actions executed without a staff approval: "
        f"{suite['sensitive_executed_without_approval']}",
        "",
        "| channel | runs | attack success | followed | sensitive tool proposed |",
        "|---|---|---|---|---|",
    ]
    for name, r in suite["by_channel"].items():
        lines.append(
            f"| {name} | {r['runs']} | {r['attack_success']:.3f} | {r['followed']:.3f} | "
            f"{r['sensitive_proposed']:.3f} |"
        )
    lines += ["", "| category | runs | attack success |", "|---|---|---|"]
    for name, r in suite["by_category"].items():
        lines.append(f"| {name} | {r['runs']} | {r['attack_success']:.3f} |")
    lines.append("")
    if plot:
        lines += [f"![attack success by category]({plot})", ""]
    return lines


# --- plots -----------------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _plot_retrieval(suite: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    datasets = [(n, d) for n, d in suite["datasets"].items() if "variants" in d]
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.2), squeeze=False)
    for ax, (name, data) in zip(axes[0], datasets, strict=True):
        part = "held_out" if "split" in data else "all"
        ceiling = None
        for variant, m in data["variants"].items():
            if part not in m:
                continue
            ks = sorted(int(k) for k in m[part]["recall"])
            ax.plot(ks, [_get(m[part]["recall"], k) for k in ks], marker="o", label=variant)
            ceiling = m[part]["ceiling"]
        if ceiling is not None:
            ks = sorted(int(k) for k in ceiling)
            ax.plot(ks, [_get(ceiling, k) for k in ks], linestyle="--", color="grey", label="ceiling")
        ax.set_title(f"{name} ({part.replace('_', '-')})")
        ax.set_xlabel("k (documents)")
        ax.set_ylabel("recall@k")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def _plot_pii(suite: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    analyzers = suite["analyzers"]
    first = next(iter(analyzers.values()))
    types = sorted(first["recall_by_type"], key=lambda t: -first["spans_by_type"][t])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(analyzers)
    for i, (name, a) in enumerate(analyzers.items()):
        xs = [j + i * width for j in range(len(types))]
        ax.bar(xs, [a["recall_by_type"].get(t, 0.0) for t in types], width=width, label=name)
    ticks = [j + 0.4 - width / 2 for j in range(len(types))]
    ax.set_xticks(ticks, types, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1.05)
    ax.set_title("PII recall per labelled type (presidio-research synth set)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def _plot_injection(suite: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    categories = list(suite["by_category"])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.barh(categories, [suite["by_category"][c]["attack_success"] for c in categories])
    ax.set_xlim(0, 1)
    ax.set_xlabel("attack success rate")
    ax.set_title(
        f"Injection by category ({suite['runs']} runs, {', '.join(suite['answered_by'])}; "
        f"executed without approval: {suite['sensitive_executed_without_approval']})"
    )
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path
