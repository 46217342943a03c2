"""PII detection metrics on presidio-research's synthetic sentences: the data set's reader and the counts.

Packaged, so `deskpilot eval --suite pii` runs from an installed wheel; `bench/pii_eval.py` (the printed
report, ours next to stock Presidio) imports it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from api.eval.data import DEFAULT_DATA_DIR

DATA_PATH = DEFAULT_DATA_DIR / "presidio-research" / "synth_dataset_v2.json"
PERSONAL_TYPES = (
    "PERSON",
    "STREET_ADDRESS",
    "ZIP_CODE",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "US_DRIVER_LICENSE",
)
STRUCTURED_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")


class Analyzer(Protocol):
    def analyze(self, text: str, language: str, **kwargs: object) -> list[Any]: ...


@dataclass(frozen=True)
class Span:
    entity_type: str
    start: int
    end: int


@dataclass(frozen=True)
class Sample:
    text: str
    spans: tuple[Span, ...]


def load_samples(path: Path = DATA_PATH) -> list[Sample]:
    """Read the data set as published (1,500 sentences with character spans)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        Sample(
            text=row["full_text"],
            spans=tuple(Span(s["entity_type"], s["start_position"], s["end_position"]) for s in row["spans"]),
        )
        for row in rows
    ]


def f2_score(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 5 * precision * recall / (4 * precision + recall)


@dataclass
class Report:
    """Counts behind the figures; recall per labelled type, precision per detected type."""

    labelled: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    detections: Counter[str] = field(default_factory=Counter)
    correct_detections: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def recall(self, types: Iterable[str] | None = None) -> float:
        chosen = list(self.labelled) if types is None else list(types)
        total = sum(self.labelled[t] for t in chosen)
        return sum(self.found[t] for t in chosen) / total if total else 1.0

    @property
    def precision(self) -> float:
        total = sum(self.detections.values())
        return sum(self.correct_detections.values()) / total if total else 1.0

    def precision_of(self, detected_type: str) -> float | None:
        total = self.detections[detected_type]
        return self.correct_detections[detected_type] / total if total else None

    def f2(self, types: Iterable[str] | None = None) -> float:
        return f2_score(self.precision, self.recall(types))


def evaluate(analyzer: Analyzer, samples: Sequence[Sample]) -> Report:
    """Run `analyzer` over every sample and count overlaps (any overlap: see bench/pii_eval.py HEADER)."""
    report = Report()
    started = time.perf_counter()
    for sample in samples:
        results = analyzer.analyze(sample.text, "en")
        for span in sample.spans:
            report.labelled[span.entity_type] += 1
            if any(r.start < span.end and span.start < r.end for r in results):
                report.found[span.entity_type] += 1
        for result in results:
            report.detections[result.entity_type] += 1
            if any(result.start < s.end and s.start < result.end for s in sample.spans):
                report.correct_detections[result.entity_type] += 1
    report.seconds = time.perf_counter() - started
    return report
