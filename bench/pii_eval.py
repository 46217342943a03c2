"""PII detection quality on presidio-research's synthetic sentences, ours next to stock Presidio, per type."""

from __future__ import annotations

from pathlib import Path

from api.eval.pii_metrics import (  # noqa: F401  (the metrics live in the package; bench re-exports them)
    PERSONAL_TYPES,
    STRUCTURED_TYPES,
    Analyzer,
    Report,
    Sample,
    Span,
    evaluate,
    load_samples,
)
from api.eval.pii_metrics import f2_score as _f2

DATA_PATH = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "eval-data"
    / "presidio-research"
    / "synth_dataset_v2.json"
)
HEADER = """\
PII detection on presidio-research synth_dataset_v2.json ({samples} sentences, {spans} labelled spans)
- recall: a labelled span counts as found when any detection overlaps it (whatever type the detection has)
- precision: a detection counts as correct when it overlaps a labelled span of any type; detections that
  overlap no labelled span at all are false positives
- F2 weighs recall twice as much as precision (missing PII costs more than over-redacting)
- personal = {personal}
"""


def _cell(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.3f}"


def format_report(ours: Report, stock: Report | None = None, n_samples: int = 0) -> str:
    """Both reports as plain-text tables: recall per labelled type, precision per detected type, totals."""
    lines = [
        HEADER.format(
            samples=n_samples, spans=sum(ours.labelled.values()), personal=", ".join(PERSONAL_TYPES)
        )
    ]
    other = stock or Report()
    lines.append(
        f"{'labelled type':20} {'spans':>6} | {'ours R':>7} {'ours F2':>7} | {'stock R':>7} {'stock F2':>8}"
    )
    for label in sorted(ours.labelled, key=lambda t: -ours.labelled[t]):
        # Per-type F2 uses the precision of detections of that same type where the analyzer emits it.
        ours_p, stock_p = ours.precision_of(label), other.precision_of(label)
        ours_r, stock_r = ours.recall([label]), other.recall([label]) if stock else None
        ours_f2 = None if ours_p is None else _f2(ours_p, ours_r)
        stock_f2 = None if stock_p is None or stock_r is None else _f2(stock_p, stock_r)
        lines.append(
            f"{label:20} {ours.labelled[label]:6d} | {ours_r:7.3f} {_cell(ours_f2):>7} | "
            f"{_cell(stock_r):>7} {_cell(stock_f2):>8}"
        )
    lines.append("")
    lines.append(f"{'detected type':20} {'ours n':>6} {'ours P':>7} | {'stock n':>7} {'stock P':>7}")
    for detected in sorted(set(ours.detections) | set(other.detections)):
        lines.append(
            f"{detected:20} {ours.detections[detected]:6d} {_cell(ours.precision_of(detected)):>7} | "
            f"{other.detections[detected]:7d} {_cell(other.precision_of(detected)):>7}"
        )
    lines.append("")
    lines.append(f"{'total':20} {'ours':>7} {'stock':>7}")
    rows = [
        ("recall, personal", ours.recall(PERSONAL_TYPES), other.recall(PERSONAL_TYPES) if stock else None),
        ("recall, all types", ours.recall(), other.recall() if stock else None),
        ("precision", ours.precision, other.precision if stock else None),
        ("F2, personal", ours.f2(PERSONAL_TYPES), other.f2(PERSONAL_TYPES) if stock else None),
        ("F2, all types", ours.f2(), other.f2() if stock else None),
        ("seconds", ours.seconds, other.seconds if stock else None),
    ]
    for name, mine, theirs in rows:
        lines.append(f"{name:20} {mine:7.3f} {_cell(theirs):>7}")
    return "\n".join(lines)


def main() -> None:
    from agent.pii.engine import build_analyzer, build_stock_analyzer

    samples = load_samples()
    ours = evaluate(build_analyzer(), samples)
    stock = evaluate(build_stock_analyzer(), samples)
    print(format_report(ours, stock, n_samples=len(samples)))


if __name__ == "__main__":
    main()
