"""The Redactor end to end: placeholders, restore, stability across turns and restarts, structured values."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.pii import PiiVault, Redactor
from agent.pii.analyzer import DeskpilotAnalyzer

DANA = "I'm Dana Whitfield, dana.w@example.com, card 4111 1111 1111 1111"

MESSAGES = [
    DANA,
    "Hi, my name is vitoria santos and my phone is 078 651 4500.",
    "Please send the replacement to 742 Evergreen Terrace, Springfield, IL 62704. Thanks, Marge",
    "Refund ORD-123456 to IBAN GB82 WEST 1234 5698 7654 32 please (customer CUS-981).",
    "My SSN is 023-01-0866 and I was born on 03/14/1985.",
    "Nothing personal here: the tent NB-TENT-2P arrived torn, order ORD-654321, $129.00.",
    "Dear Mrs. Okafor,\nthe parcel for 14 Crown Street\nSuite 321\nLondon\nUnited Kingdom 75419 is late.",
]

# Deskpilot ids that tools need verbatim, and other things that must never be redacted.
OUR_IDS = (
    "Order ORD-123456 for customer CUS-42: ticket TCK-2024-0001, refund RF-88, approval "
    "apr_5550123456789abcde01 (request 3f2b8a9e-1c4d-4e5f-8a9b-0c1d2e3f4a5b), SKU NB-TENT-2P at $129.00, "
    "ordered 2024-03-01, tracking TCK-48213377 and <PERSON_7>."
)


def test_dana_shows_placeholders_and_counts_not_values(redactor: Redactor) -> None:
    redaction = redactor.redact(DANA, tenant="acme", conversation_id="c1")
    assert redaction.text == "I'm <PERSON_1>, <EMAIL_2>, card <CARD_3>"
    assert redaction.counts == {"PERSON": 1, "EMAIL": 1, "CARD": 1}
    for raw in ("Dana", "Whitfield", "dana.w@example.com", "4111"):
        assert raw not in redaction.text


@pytest.mark.parametrize("message", MESSAGES)
def test_restore_inverts_redact(redactor: Redactor, message: str) -> None:
    redaction = redactor.redact(message, tenant="acme", conversation_id="round-trip")
    assert redactor.restore(redaction.text, tenant="acme", conversation_id="round-trip") == message


@pytest.mark.parametrize("message", MESSAGES)
def test_redacting_redacted_text_changes_nothing(redactor: Redactor, message: str) -> None:
    once = redactor.redact(message, tenant="acme", conversation_id="twice")
    twice = redactor.redact(once.text, tenant="acme", conversation_id="twice")
    assert twice.text == once.text
    assert twice.counts == {}


def test_our_ids_money_and_order_dates_are_untouched(redactor: Redactor) -> None:
    redaction = redactor.redact(OUR_IDS, tenant="acme", conversation_id="ids")
    assert redaction.text == OUR_IDS
    assert redaction.counts == {}


def test_placeholders_are_stable_across_turns_and_restarts(
    redactor: Redactor, pii_analyzer: DeskpilotAnalyzer, vault_engine: Engine, vault_key: bytes
) -> None:
    turn1 = redactor.redact(DANA, tenant="acme", conversation_id="c1")
    turn2 = redactor.redact(
        "Dana Whitfield again: please also email dana.w@example.com a copy.",
        tenant="acme",
        conversation_id="c1",
    )
    assert turn2.text == "<PERSON_1> again: please also email <EMAIL_2> a copy."
    restarted = Redactor(pii_analyzer, PiiVault(vault_engine, vault_key))
    assert restarted.redact(DANA, tenant="acme", conversation_id="c1").text == turn1.text
    assert restarted.restore(turn1.text, tenant="acme", conversation_id="c1") == DANA


def test_other_conversations_and_tenants_cannot_restore(redactor: Redactor) -> None:
    redaction = redactor.redact(DANA, tenant="acme", conversation_id="c1")
    assert redactor.restore(redaction.text, tenant="acme", conversation_id="c2") == redaction.text
    assert redactor.restore(redaction.text, tenant="globex", conversation_id="c1") == redaction.text
    other = redactor.redact("I'm Lee Chen, lee@example.com", tenant="acme", conversation_id="c2")
    assert (
        redactor.restore(other.text, tenant="acme", conversation_id="c2") == "I'm Lee Chen, lee@example.com"
    )
    assert (
        redactor.restore(other.text, tenant="acme", conversation_id="c1") != "I'm Lee Chen, lee@example.com"
    )


def test_unknown_placeholders_are_left_alone(redactor: Redactor) -> None:
    redactor.redact(DANA, tenant="acme", conversation_id="c1")
    assert redactor.restore("Hello <PERSON_1> and <PERSON_99>", tenant="acme", conversation_id="c1") == (
        "Hello Dana Whitfield and <PERSON_99>"
    )


def test_structured_values_redact_strings_only_and_restore(redactor: Redactor) -> None:
    tool_result: dict[str, Any] = {
        "order_id": "ORD-123456",
        "customer": {"name": "Dana Whitfield", "email": "dana.w@example.com", "id": "CUS-42"},
        "items": [{"sku": "NB-TENT-2P", "qty": 2, "price": "$129.00"}],
        "notes": ("Leave it with Dana Whitfield",),
        "paid": True,
        "total": 258.0,
    }
    redacted, counts = redactor.redact_value(tool_result, tenant="acme", conversation_id="c1")
    assert counts == {"PERSON": 2, "EMAIL": 1}
    assert redacted["order_id"] == "ORD-123456" and redacted["customer"]["id"] == "CUS-42"
    assert redacted["items"] == tool_result["items"]
    assert redacted["customer"]["name"] == "<PERSON_1>"
    assert redacted["notes"] == ("Leave it with <PERSON_1>",)
    assert redacted["paid"] is True and redacted["total"] == 258.0
    arguments = {"order_id": "ORD-123456", "recipient": "<PERSON_1>", "cc": ["<EMAIL_2>"]}
    assert redactor.restore_value(arguments, tenant="acme", conversation_id="c1") == {
        "order_id": "ORD-123456",
        "recipient": "Dana Whitfield",
        "cc": ["dana.w@example.com"],
    }
    assert redactor.restore_value(redacted, tenant="acme", conversation_id="c1") == tool_result


class _SlowAnalyzer:
    """Wraps the real analyzer, records which thread ran it and when, and is slow like a long message."""

    def __init__(self, inner: DeskpilotAnalyzer, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.calls: list[tuple[int, float, float]] = []
        self._lock = threading.Lock()

    def analyze(self, text: str, language: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        time.sleep(self.delay)
        results = self.inner.analyze(text, language, **kwargs)
        with self._lock:
            self.calls.append((threading.get_ident(), started, time.perf_counter()))
        return results


async def test_aredact_runs_off_the_event_loop(pii_analyzer: DeskpilotAnalyzer, vault: PiiVault) -> None:
    slow = _SlowAnalyzer(pii_analyzer, delay=0.3)
    redactor = Redactor(slow, vault)  # type: ignore[arg-type]
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(20):
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.02)

    first, second, _ = await asyncio.gather(
        redactor.aredact(DANA, tenant="acme", conversation_id="a"),
        redactor.aredact("Call me on 078 651 4500", tenant="acme", conversation_id="b"),
        ticker(),
    )
    assert first.text == "I'm <PERSON_1>, <EMAIL_2>, card <CARD_3>"
    assert second.counts == {"PHONE": 1}
    loop_thread = threading.get_ident()
    assert all(thread != loop_thread for thread, _, _ in slow.calls)
    (_, start_a, end_a), (_, start_b, end_b) = slow.calls
    assert start_a < end_b and start_b < end_a  # the two analyses overlapped in time
    # The loop kept ticking while the analyses ran: no gap close to the 0.3 s they each took.
    assert max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < 0.2
