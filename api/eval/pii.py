"""PII suite: recall, precision and F2 per entity type on presidio-research's synthetic set, ours, stock."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from api.eval.pii_metrics import PERSONAL_TYPES, Report, evaluate, load_samples


def run(data_dir: Path, stock: bool = True, limit: int | None = None) -> dict[str, Any]:
    """`limit`: only the first N sentences (a quick run; the figures then hold for those only)."""
    from agent.pii.engine import build_analyzer, build_stock_analyzer

    path = data_dir / "presidio-research" / "synth_dataset_v2.json"
    if not path.is_file():
        return {"suite": "pii", "skipped": f"not found: {path}"}
    samples = load_samples(path)[:limit]

    def summary(report: Report) -> dict[str, Any]:
        return {
            "recall_personal": report.recall(PERSONAL_TYPES),
            "recall_all": report.recall(),
            "precision": report.precision,
            "f2_personal": report.f2(PERSONAL_TYPES),
            "f2_all": report.f2(),
            "seconds": report.seconds,
            "recall_by_type": {t: report.recall([t]) for t in report.labelled},
            "spans_by_type": dict(report.labelled),
        }

    results: dict[str, Any] = {
        "suite": "pii",
        "samples": len(samples),
        "spans": sum(len(s.spans) for s in samples),
        "personal_types": list(PERSONAL_TYPES),
        "analyzers": {"deskpilot": summary(evaluate(cast(Any, build_analyzer()), samples))},
    }
    if stock:
        results["analyzers"]["stock presidio"] = summary(evaluate(cast(Any, build_stock_analyzer()), samples))
    return results
