"""PII recall on freshly generated support messages (Faker, six English locales); over-redaction too.

Every run draws a new seed (printed, so a failure can be replayed with `--seed`). Templates are split into a
tuning part and a held-out part (`held_out`), and so are the names (`agent.pii.gazetteer.is_held_out`): the
recognizers were tuned on the tuning part only, and the report gives both, so a figure that only memorises
shows up as a gap.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from presidio_analyzer import RecognizerResult

from api.eval.pii_metrics import Analyzer, Span
from bench.pii_messages import Generator, Message
from bench.pii_values import LOCALES

NATIONAL_ID_TYPES = ("US_SSN", "US_ITIN", "UK_NINO", "CA_SIN", "AU_TFN", "IN_AADHAAR", "IN_PAN", "IE_PPS")
STRUCTURED_TYPES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    *NATIONAL_ID_TYPES,
)
OTHER_TYPES = ("PERSON", "STREET_ADDRESS", "ZIP_CODE", "DATE_OF_BIRTH")

# ------------------------------------------------------------------------------------------------------------
# Scoring: a value counts as found only when every letter and digit of it is covered by detections (a partial
# redaction still leaks); a detection on the PII-free set is a value wrongly redacted.


@dataclass
class GeneratedReport:
    labelled: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    labelled_held: Counter[str] = field(default_factory=Counter)
    found_held: Counter[str] = field(default_factory=Counter)
    names_held_out: int = 0
    names_held_out_found: int = 0
    detections: int = 0
    stray_detections: int = 0
    clean_messages: int = 0
    clean_detections: Counter[str] = field(default_factory=Counter)
    clean_touched: int = 0
    misses: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def recall(self, kinds: Iterable[str] | None = None, *, held: bool | None = None) -> float:
        labelled = (
            self.labelled
            if held is None
            else (self.labelled_held if held else self.labelled - self.labelled_held)
        )
        found = self.found if held is None else (self.found_held if held else self.found - self.found_held)
        chosen = list(labelled) if kinds is None else list(kinds)
        total = sum(labelled[k] for k in chosen)
        return sum(found[k] for k in chosen) / total if total else 1.0

    @property
    def precision(self) -> float:
        """Detections on the PII messages that overlap a labelled value."""
        return 1 - self.stray_detections / self.detections if self.detections else 1.0

    @property
    def clean_precision(self) -> float:
        """1 - values wrongly redacted per PII-free message."""
        total = sum(self.clean_detections.values())
        return 1 - total / self.clean_messages if self.clean_messages else 1.0


def _covered(span: Span, text: str, results: Sequence) -> bool:  # type: ignore[type-arg]
    needed = [i for i in range(span.start, span.end) if text[i].isalnum()]
    return all(any(r.start <= i < r.end for r in results) for i in needed)


def evaluate(
    analyzer: Analyzer, messages: Sequence[Message], clean: Sequence[str], allow_list: Sequence[str] = ()
) -> GeneratedReport:
    report = GeneratedReport()
    started = time.perf_counter()
    for message in messages:
        results = analyzer.analyze(message.text, "en", allow_list=list(allow_list) or None)
        names = iter(message.names_held_out)
        for span in message.spans:
            found = _covered(span, message.text, results)
            report.labelled[span.entity_type] += 1
            report.found[span.entity_type] += found
            if message.held_out:
                report.labelled_held[span.entity_type] += 1
                report.found_held[span.entity_type] += found
            if span.entity_type == "PERSON" and next(names, False):
                report.names_held_out += 1
                report.names_held_out_found += found
            if not found:
                report.misses.setdefault(span.entity_type, []).append(
                    (message.text[span.start : span.end], message.text)
                )
        for result in results:
            report.detections += 1
            if not any(result.start < s.end and s.start < result.end for s in message.spans):
                report.stray_detections += 1
    for text in clean:
        report.clean_messages += 1
        results = analyzer.analyze(text, "en", allow_list=list(allow_list) or None)
        report.clean_touched += bool(results)
        for result in results:
            report.clean_detections[result.entity_type] += 1
            recognizer = (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, "?")
            report.false_positives.append(
                (f"{result.entity_type} ({recognizer})", text[result.start : result.end], text)
            )
    report.seconds = time.perf_counter() - started
    return report


def format_report(
    report: GeneratedReport, seed: int, n_messages: int, n_clean: int, examples: int = 3
) -> str:
    lines = [
        f"PII on freshly generated support messages: seed {seed} "
        f"(replay: python -m bench.pii_generated --seed {seed})",
        f"{n_messages} messages with PII ({', '.join(LOCALES)}), {n_clean} PII-free messages",
        "- found: every letter and digit of the value is covered by a detection (partial redaction = leak)",
        "- held-out: templates never used while tuning the recognizers",
        "",
        f"{'type':16} {'values':>6} {'recall':>7} | {'tuning':>7} {'held-out':>8}",
    ]
    for kind in sorted(report.labelled, key=lambda k: -report.labelled[k]):
        tuning_n = report.labelled[kind] - report.labelled_held[kind]
        lines.append(
            f"{kind:16} {report.labelled[kind]:6d} {report.recall([kind]):7.3f} | "
            f"{report.recall([kind], held=False) if tuning_n else float('nan'):7.3f} "
            f"{report.recall([kind], held=True) if report.labelled_held[kind] else float('nan'):8.3f}"
        )
    structured = [k for k in STRUCTURED_TYPES if report.labelled[k]]
    held_names = (
        report.names_held_out_found / report.names_held_out if report.names_held_out else float("nan")
    )
    lines += [
        "",
        f"structured types recall      {report.recall(structured):.3f}",
        f"names recall                 {report.recall(['PERSON']):.3f} (names outside the gazetteer: "
        f"{held_names:.3f} of {report.names_held_out})",
        f"street addresses recall      {report.recall(['STREET_ADDRESS']):.3f}",
        f"precision on PII messages    {report.precision:.3f} "
        f"({report.stray_detections} of {report.detections} "
        "detections overlap no value)",
        f"precision on PII-free set    {report.clean_precision:.3f} "
        f"({sum(report.clean_detections.values())} values "
        f"wrongly redacted in {report.clean_messages} messages; {report.clean_touched} messages touched"
        f"{': ' + dict(report.clean_detections).__repr__() if report.clean_detections else ''})",
        f"seconds                      {report.seconds:.1f}",
    ]
    if examples:
        for kind, misses in sorted(report.misses.items()):
            for value, text in misses[:examples]:
                lines.append(f"  missed {kind}: {value!r} in {text!r}")
        for kind, value, text in report.false_positives[: examples * 3]:
            lines.append(f"  wrongly redacted {kind}: {value!r} in {text!r}")
    return "\n".join(lines)


def fresh_seed() -> int:
    return int.from_bytes(os.urandom(4), "big")


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pii_generated", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="replay one run (default: a fresh seed)")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clean", type=int, default=1000, help="PII-free messages")
    parser.add_argument("--templates", choices=["all", "tuning", "held_out"], default="all")
    parser.add_argument("--examples", type=int, default=3, help="misses and false positives shown per type")
    args = parser.parse_args(list(argv))

    from agent.pii.engine import build_analyzer

    seed = fresh_seed() if args.seed is None else args.seed
    generator = Generator(seed, templates=args.templates)
    messages = generator.messages(args.messages)
    clean = generator.clean_messages(args.clean)
    report = evaluate(build_analyzer(), messages, clean, generator.allow_list)
    print(format_report(report, seed, len(messages), len(clean), args.examples))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
