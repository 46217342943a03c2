"""Detection floors on presidio-research's synthetic set, and a held-out set of our own support messages."""

from __future__ import annotations

import pytest

from agent.pii.analyzer import DeskpilotAnalyzer
from bench.pii_eval import DATA_PATH, PERSONAL_TYPES, STRUCTURED_TYPES, evaluate, load_samples

# Just under what we measure (see `make eval-pii`), so a regression fails here.
FLOORS = {
    "personal_recall": 0.925,
    "structured_recall": 0.99,
    "precision": 0.965,
    "PERSON": 0.85,
    "STREET_ADDRESS": 0.95,
}


@pytest.mark.skipif(not DATA_PATH.exists(), reason="shared eval data not present")
def test_floors_on_presidio_research_synth_dataset(pii_analyzer: DeskpilotAnalyzer) -> None:
    report = evaluate(pii_analyzer, load_samples())
    assert report.recall(PERSONAL_TYPES) >= FLOORS["personal_recall"]
    for kind in STRUCTURED_TYPES:
        assert report.recall([kind]) >= FLOORS["structured_recall"], kind
    assert report.precision >= FLOORS["precision"]
    assert report.recall(["PERSON"]) >= FLOORS["PERSON"]
    assert report.recall(["STREET_ADDRESS"]) >= FLOORS["STREET_ADDRESS"]


# Written for Deskpilot, not drawn from the synthetic set: (message, values that must be hidden).
HELD_OUT = [
    (
        "Hi, this is Priya Raman. My order ORD-553201 never arrived at 18 Larkspur Lane, Leeds LS6 2AB.",
        ["Priya Raman", "18 Larkspur Lane", "LS6 2AB"],
    ),
    (
        "hello my name is tomasz wojcik, please call me back on 0161 496 0732",
        ["tomasz wojcik", "0161 496 0732"],
    ),
    (
        "Card ending in 4242? No, the full number is 4242 4242 4242 4242, exp 09/28, CVV 314.",
        ["4242 4242 4242 4242", "09/28", "314"],
    ),
    (
        "Please refund to my account: IBAN DE89 3704 0044 0532 0130 00, account holder Jonas Becker.",
        ["DE89 3704 0044 0532 0130 00", "Jonas Becker"],
    ),
    (
        "New shipping address:\nAmelia Hart\n55 Harbour Road\nFlat 4\nCork\nT12 X2Y3",
        ["Amelia Hart", "55 Harbour Road"],
    ),
    (
        "Thanks, Olu. Reach me at olu.adeyemi@mailbox.ng or +234 803 555 0199.",
        ["Olu", "olu.adeyemi@mailbox.ng", "+234 803 555 0199"],
    ),
    (
        "My daughter Sofia Marquez will pick it up; her driver's licence number is S530-4418-9921.",
        ["Sofia Marquez", "S530-4418-9921"],
    ),
    (
        "Dear Deskpilot team, I moved to Kastanienallee 12, 10435 Berlin. Regards, Henrike Vogt",
        ["Kastanienallee 12", "Henrike Vogt"],
    ),
    (
        "my login keeps failing from 203.0.113.77 — can you unblock it? SSN for verification: 219-09-9999",
        ["203.0.113.77", "219-09-9999"],
    ),
    (
        "I was born 2 February 1979 and my passport number is 533380006, name Keiko Tanaka.",
        ["2 February 1979", "533380006", "Keiko Tanaka"],
    ),
]


@pytest.mark.parametrize(("message", "values"), HELD_OUT, ids=[m[:32] for m, _ in HELD_OUT])
def test_held_out_support_messages(pii_analyzer: DeskpilotAnalyzer, message: str, values: list[str]) -> None:
    results = pii_analyzer.analyze(message, "en")
    for value in values:
        start = message.index(value)
        end = start + len(value)
        assert any(r.start < end and start < r.end for r in results), value
    assert "ORD-553201" not in [message[r.start : r.end] for r in results]
