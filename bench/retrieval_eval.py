"""Retrieval recall@5/@10 and MRR per search variant, on tau2 banking help docs and the bundled demo KB.

`python -m bench.retrieval_eval` prints the tables; `deskpilot eval --suite retrieval` runs the same suite
and writes a report with plots. The metrics and the variants live in `api.eval.retrieval`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api.eval.retrieval import (
    VARIANTS,
    Case,
    DocumentKey,
    build_query,
    evaluate_variants,
    file_cases,
    metrics,
    source_name,
    source_stem,
    tau2_results,
)
from api.eval.retrieval import tau2_cases as _tau2_cases
from knowledge.store import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
TAU2_DIR = ROOT / ".." / "shared" / "eval-data" / "tau2-banking-knowledge"
DEMO_QUESTIONS = ROOT / "tests" / "knowledge" / "fixtures" / "demo_questions.json"

__all__ = ["TAU2_DIR", "build_query", "demo_cases", "evaluate", "source_name", "source_stem", "tau2_cases"]


def tau2_cases(tau2_dir: Path = TAU2_DIR) -> list[Case]:
    return _tau2_cases(tau2_dir)


def demo_cases(path: Path = DEMO_QUESTIONS) -> list[Case]:
    return file_cases(path)


def evaluate(
    kb: KnowledgeBase, tenant: str, cases: Sequence[Case], key: DocumentKey
) -> dict[str, dict[Any, float]]:
    """recall@5, recall@10 and MRR (key "mrr") of every variant over `cases`."""
    out: dict[str, dict[Any, float]] = {}
    for name, rankings in evaluate_variants(kb, tenant, cases, key).items():
        row = metrics(rankings, cases)
        out[name] = {5: row["recall"][5], 10: row["recall"][10], "mrr": row["mrr"]}
    return out


def print_rows(title: str, rows: dict[str, dict[str, Any]], part: str = "all") -> None:
    print(f"\n{title}")
    print(f"  {'variant':<24} {'recall@5':>9} {'recall@10':>10} {'MRR':>7}")
    ceiling = None
    for name, parts in rows.items():
        row = parts[part]
        ceiling = row["ceiling"]
        print(f"  {name:<24} {row['recall'][5]:>9.3f} {row['recall'][10]:>10.3f} {row['mrr']:>7.3f}")
    if ceiling is not None:
        print(f"  {'ceiling':<24} {ceiling[5]:>9.3f} {ceiling[10]:>10.3f}")


def main() -> None:
    from api.settings import get_settings
    from knowledge import DEMO_DOCS_DIR, ingest_paths, open_knowledge_base

    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="deskpilot-eval-") as tmp:
        kb = open_knowledge_base(
            chroma_path=Path(tmp) / "chroma", chroma_url=None, models_dir=settings.models_dir
        )
        started = time.perf_counter()
        ingest_paths(kb, "demo", [DEMO_DOCS_DIR])
        cases = demo_cases()
        rankings = evaluate_variants(kb, "demo", cases, source_name)
        demo = {name: {"all": metrics(rows, cases)} for name, rows in rankings.items()}
        print_rows(f"Bundled demo KB ({len(cases)} queries)", demo)
        if not (TAU2_DIR / "documents").is_dir():
            print(f"\ntau2 banking data not found at {TAU2_DIR.resolve()}: skipped")
            return
        report = ingest_paths(kb, "tau2", [TAU2_DIR / "documents"], progress=True)
        print(f"\ntau2 index: {report.summary()} in {time.perf_counter() - started:.0f} s")
        results = tau2_results(kb, "tau2", tau2_cases())
        split = results["split"]
        variants = results["variants"]
        searched = {v.name: variants[v.name] for v in VARIANTS}
        print_rows(f"tau2 banking_knowledge, all {results['cases']} tasks", searched)
        for part in ("train", "held_out"):
            rows = {**searched, "hybrid+title+feedback": variants["hybrid+title+feedback"]}
            print_rows(f"tau2 {part} ({split[part]} tasks, split seed {split['seed']})", rows, part)
        print(
            f"  feedback parameters chosen on the tuning tasks: {variants['hybrid+title+feedback']['params']}"
        )


if __name__ == "__main__":
    main()
