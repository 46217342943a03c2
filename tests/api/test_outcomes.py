"""Outcome figures computed exactly from a scripted set of conversations, through the API (offline engine):
deflections, handoffs by reason, approvals approved/rejected/expired, drafts suggested and used, feedback,
CSAT; the same counters in /metrics; the cost figures from a model with known usage; `deskpilot report`."""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from api.models import Approval
from tests.api.test_approvals import refundable_order
from tests.api.test_postgres import pg_engine, pg_url  # noqa: F401  (fixtures)
from tests.conftest import bearer, make_client, online
from tests.support import Reply, Usage


@pytest.fixture
def client(settings: Any, seeded_engine: Any) -> Any:
    with make_client(settings, seeded_engine) as client:
        yield client


@pytest.fixture
def staff(seeded_engine: Any) -> dict[str, str]:
    return bearer(seeded_engine, "default", ("agent", "admin"))


def refundable_orders(engine: Any, count: int) -> list[tuple[str, str]]:
    """(customer, order) pairs with a refundable order, one per customer."""
    found: list[tuple[str, str]] = []
    for number in range(1001, 1040):
        customer = f"CUS-{number}"
        try:
            found.append((customer, refundable_order(engine, customer)))
        except (AssertionError, TypeError, KeyError):
            continue
        if len(found) == count:
            return found
    raise AssertionError("the demo shop has too few refundable orders")


def handoff_reason(turn: dict[str, Any]) -> str:
    assert turn["status"] == "needs_human", turn
    [call] = [c for c in turn["tool_calls"] if c["name"] == "escalate_to_human"]
    return str(call["args"]["reason_category"])


class Script:
    """Drives conversations through the API the way channels do."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def open(self, customer: str | None = "CUS-1001", channel: str = "api") -> str:
        body: dict[str, Any] = {"channel": channel, **({"customer_id": customer} if customer else {})}
        response = self.client.post("/v1/conversations", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def say(self, conversation: str, text: str) -> dict[str, Any]:
        response = self.client.post(
            f"/v1/conversations/{conversation}/messages", json={"content": text}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.headers)
        assert response.status_code == status, response.text
        return dict(response.json())

    def feedback(self, conversation: str, rating: str, reason: str | None = None) -> None:
        body = {"conversation_id": conversation, "rating": rating, "reason": reason}
        self.post("/v1/feedback", body, status=201)

    def csat(self, conversation: str, score: int) -> None:
        self.post(
            "/v1/csat", {"conversation_id": conversation, "score": score, "channel": "zendesk"}, status=201
        )


def test_outcome_figures_from_a_scripted_month(
    client: Any, staff: dict[str, str], seeded_engine: Any, settings: Any, tmp_path: Path
) -> None:
    from api.maintenance import sweep

    run = Script(client, staff)
    approver = bearer(seeded_engine, "default", ("approve",))
    (c1, o1), (c2, o2), (c3, o3) = refundable_orders(seeded_engine, 3)

    # Resolved without a human: answered, no staff reply, never handed off (a note does not count).
    a = run.open()
    run.say(a, "Where is my order? What is the status?")
    run.feedback(a, "up")
    run.csat(a, 5)
    b = run.open()
    run.say(b, "How long do returns take?")
    run.say(b, "And can I return a tent?")
    run.feedback(b, "down", "wrong order")
    run.csat(b, 2)
    f = run.open()
    run.say(f, "Do you ship to Canada?")
    run.post(f"/v1/conversations/{f}/staff-messages", {"content": "VIP customer", "kind": "note"}, status=201)

    # Not resolved without a human: a staff reply; no answer at all; two handoffs on a helpdesk channel.
    e = run.open()
    run.say(e, "What are your opening hours?")
    run.post(
        f"/v1/conversations/{e}/staff-messages", {"content": "We open at 9.", "kind": "staff"}, status=201
    )
    run.open()  # a conversation nobody wrote in
    c = run.open(channel="zendesk")
    assert handoff_reason(run.say(c, "Can I speak to a human please?")) == "other"
    d = run.open(channel="zendesk")
    assert handoff_reason(run.say(d, "This is ridiculous, let me talk to a manager")) == "angry_customer"
    run.csat(c, 4)
    run.csat(c, 3)  # a second answer replaces the first

    # Drafts for the staff who took over: one used (reported twice, counted once), one not.
    used = run.post(f"/v1/conversations/{c}/draft")
    run.post(f"/v1/conversations/{d}/draft")
    assert run.post(f"/v1/conversations/{c}/drafts/{used['message_id']}/used", {"channel": "sidebar"})[
        "recorded"
    ]
    assert not run.post(f"/v1/conversations/{c}/drafts/{used['message_id']}/used")["recorded"]
    run.feedback(c, "down", "too long")

    # Approvals: one approved, one rejected, one left to expire.
    approvals = []
    for customer, order in ((c1, o1), (c2, o2)):
        conversation = run.open(customer)
        approvals.append(
            run.say(conversation, f"I want a refund for {order}, it arrived damaged.")["pending_approval"]
        )
    assert all(approvals)
    decided = client.post(f"/v1/approvals/{approvals[0]}", json={"decision": "approve"}, headers=approver)
    assert decided.status_code == 200, decided.text
    rejected = client.post(f"/v1/approvals/{approvals[1]}", json={"decision": "reject"}, headers=approver)
    assert rejected.status_code == 200, rejected.text
    r1 = client.get(f"/v1/approvals/{approvals[0]}", headers=approver).json()["conversation_id"]
    run.feedback(r1, "up")
    assert (
        client.put("/v1/tenant/settings", json={"approval_expiry_hours": 0.0002}, headers=staff).status_code
        == 200
    )
    r3 = run.open(c3)
    approvals.append(run.say(r3, f"I want a refund for {o3}, it arrived damaged.")["pending_approval"])
    time.sleep(1.0)  # 0.0002 h = 0.72 s
    client.portal.call(sweep, client.app.state.runtime)
    assert client.get(f"/v1/approvals/{approvals[2]}", headers=approver).json()["status"] == "expired"

    with Session(seeded_engine) as session:
        rows = [session.get(Approval, approval_id) for approval_id in approvals[:2]]
    decision_seconds = [(r.decided_at - r.created_at).total_seconds() for r in rows if r]  # type: ignore[operator]

    response = client.get("/v1/outcomes", params={"group_by": "channel"}, headers=staff)
    assert response.status_code == 200, response.text
    body = response.json()
    totals = body["totals"]
    assert totals["conversations"] == 10
    assert totals["resolved_without_human"] == 6  # a, b, f and the three refund conversations
    assert totals["deflection_rate"] == 0.6
    assert totals["turns"] == {
        "total": 15,
        "done": 15,
        "failed": 0,
        "running": 0,
        # a 1, b 2, f 1, e 1, c 1, d 1, three refund requests; two drafts; three resumed after a decision
        "by_kind": {"reply": 10, "draft": 2, "resume": 3},
    }
    assert totals["handoffs"] == {"total": 2, "by_reason": {"angry_customer": 1, "other": 1}}
    assert totals["approvals"] == {
        "proposed": 3,
        "approved": 1,
        "rejected": 1,
        "expired": 1,
        "pending": 0,
        "median_seconds_to_decision": round(statistics.median(decision_seconds), 1),
    }
    assert totals["drafts"] == {"suggested": 2, "used": 1, "used_rate": 0.5}
    assert totals["feedback"] == {
        "up": 2,
        "down": 2,
        "reasons": [
            {"rating": "down", "reason": "too long", "count": 1},
            {"rating": "down", "reason": "wrong order", "count": 1},
        ],
    }
    assert totals["csat"] == {
        "responses": 3,
        "average": 3.33,
        "distribution": {"1": 0, "2": 1, "3": 1, "4": 0, "5": 1},
        "satisfied_share": 0.3333,
    }
    assert totals["cost"]["cost_usd"] == 0.0  # the offline engine costs nothing

    groups = {g["channel"]: g for g in body["groups"]}
    assert set(groups) == {"api", "zendesk"}
    assert (groups["api"]["conversations"], groups["api"]["resolved_without_human"]) == (8, 6)
    assert (groups["zendesk"]["conversations"], groups["zendesk"]["resolved_without_human"]) == (2, 0)
    assert groups["zendesk"]["handoffs"]["total"] == 2 and groups["api"]["handoffs"]["total"] == 0
    assert groups["zendesk"]["drafts"] == {"suggested": 2, "used": 1, "used_rate": 0.5}
    assert groups["api"]["approvals"]["proposed"] == 3

    by_day = client.get("/v1/outcomes", params={"group_by": "day"}, headers=staff).json()
    today = datetime.now(UTC).date().isoformat()
    assert [g["day"] for g in by_day["groups"]] == [today] and by_day["groups"][0]["conversations"] == 10

    # The counters among these figures, as Prometheus counts them.
    metrics = client.get("/metrics").text
    for line in (
        'deskpilot_conversations_total{channel="api"} 8.0',
        'deskpilot_conversations_total{channel="zendesk"} 2.0',
        'deskpilot_handoffs_total{reason="angry_customer"} 1.0',
        'deskpilot_handoffs_total{reason="other"} 1.0',
        'deskpilot_drafts_total{event="suggested"} 2.0',
        'deskpilot_drafts_total{event="used"} 1.0',
        'deskpilot_feedback_total{rating="down"} 2.0',
        'deskpilot_feedback_total{rating="up"} 2.0',
        'deskpilot_csat_responses_total{score="3"} 1.0',
        'deskpilot_approvals_total{outcome="proposed"} 3.0',
        'deskpilot_approvals_total{outcome="approved"} 1.0',
        'deskpilot_approvals_total{outcome="rejected"} 1.0',
        'deskpilot_approvals_total{outcome="expired"} 1.0',
    ):
        assert line in metrics, line

    # The audit chain still verifies with the new events in it.
    assert client.get("/v1/audit/verify", headers=staff).json()["ok"] is True

    # `deskpilot report` prints the same figures and writes a PNG.
    chart = tmp_path / "report.png"
    result = CliRunner().invoke(
        _cli(), ["report", "--days", "30", "--chart", str(chart)], env=_cli_env(settings)
    )
    assert result.exit_code == 0, result.output
    assert "conversations              10" in result.output
    assert "resolved without a human   6 (60.0%)" in result.output
    assert "2 suggested, 1 used (50.0%)" in result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    as_json = CliRunner().invoke(
        _cli(), ["report", "--json", "--chart", str(tmp_path / "r2.png")], env=_cli_env(settings)
    )
    assert json.loads(as_json.stdout)["totals"]["handoffs"] == totals["handoffs"]


def _cli() -> Any:
    from api.cli import app

    return app


def _cli_env(settings: Any) -> dict[str, str]:
    from api import settings as settings_module

    settings_module.get_settings.cache_clear()
    return {"DESKPILOT_HOME": str(settings.home), "DESKPILOT_FORCE_OFFLINE": "true"}


def test_windows_without_a_timezone_are_utc_and_bad_dates_are_422(client: Any, staff: dict[str, str]) -> None:
    run = Script(client, staff)
    run.say(run.open(), "Where is my order?")
    now = datetime.now(UTC)

    def conversations(**params: str) -> int:
        response = client.get("/v1/outcomes", params=params, headers=staff)
        assert response.status_code == 200, response.text
        return int(response.json()["totals"]["conversations"])

    naive = (now - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert conversations(**{"from": naive}) == 1  # read as UTC
    later = (now + timedelta(hours=1)).replace(tzinfo=None)
    assert conversations(**{"from": later.isoformat(), "to": (later + timedelta(days=1)).isoformat()}) == 0
    assert conversations(**{"to": now.date().isoformat()}) == 1  # a bare `to` date includes that day
    assert conversations(**{"to": (now.date() - timedelta(days=1)).isoformat()}) == 0
    assert conversations(**{"from": (now - timedelta(hours=1)).astimezone().isoformat()}) == 1  # an offset
    assert conversations(**{"from": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}) == 1  # Z
    for bad in ({"from": "yesterday"}, {"from": "2026-13-01"}, {"from": "2026-12-02", "to": "2026-12-01"}):
        response = client.get("/v1/outcomes", params=bad, headers=staff)
        assert response.status_code == 422, (bad, response.text)
    assert client.get("/v1/outcomes", params={"group_by": "week"}, headers=staff).status_code == 422
    assert client.get("/v1/outcomes", headers=bearer(client.app.state.runtime.engine)).status_code == 403


def test_cost_and_cached_share_from_the_model_usage(
    settings: Any, seeded_engine: Any, openai_stub: Any, staff: dict[str, str]
) -> None:
    openai_stub.enqueue(
        Reply(
            "Your order is on its way.",
            usage=Usage(prompt_tokens=2000, completion_tokens=100, cached_tokens=1024),
        ),
        Reply("You're welcome.", usage=Usage(prompt_tokens=3000, completion_tokens=50, cached_tokens=2048)),
    )
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        run = Script(client, staff)
        conversation = run.open()
        run.say(conversation, "Where is my order?")
        run.say(conversation, "Thanks!")
        cost = client.get("/v1/outcomes", headers=staff).json()["totals"]["cost"]
    # gpt-4o: $2.50 / M fresh input, $1.25 / M cached input, $10 / M output.
    fresh, cached, output = (2000 - 1024) + (3000 - 2048), 1024 + 2048, 150
    expected = round((fresh * 2.5 + cached * 1.25 + output * 10) / 1_000_000, 6)
    assert cost == {
        "model_calls": 2,
        "input_tokens": 5000,
        "cached_tokens": 3072,
        "output_tokens": 150,
        "cost_usd": expected,
        "cached_share": round(3072 / 5000, 4),
    }


def test_drafts_used_and_csat_are_checked(client: Any, staff: dict[str, str], seeded_engine: Any) -> None:
    run = Script(client, staff)
    conversation = run.open()
    reply = run.say(conversation, "Where is my order?")
    other = run.open()
    # Only a suggested draft of that conversation can be reported used.
    path = f"/v1/conversations/{conversation}/drafts/{reply['message_id']}/used"
    assert client.post(path, headers=staff).status_code == 409  # a reply, not a draft
    draft = run.post(f"/v1/conversations/{conversation}/draft")
    assert (
        client.post(f"/v1/conversations/{other}/drafts/{draft['message_id']}/used", headers=staff).status_code
        == 404
    )
    assert (
        client.post(f"/v1/conversations/{conversation}/drafts/999999/used", headers=staff).status_code == 404
    )
    acme = bearer(seeded_engine, "acme", ("agent",))
    path = f"/v1/conversations/{conversation}/drafts/{draft['message_id']}/used"
    assert client.post(path, headers=acme).status_code == 404  # another tenant's draft
    for bad in (0, 6, "five"):
        body = {"conversation_id": conversation, "score": bad}
        assert client.post("/v1/csat", json=body, headers=staff).status_code == 422
    body = {"conversation_id": conversation, "score": 4}
    assert client.post("/v1/csat", json=body, headers=acme).status_code == 404
    assert client.post("/v1/csat", json=body).status_code == 401


def test_outcome_figures_on_postgres(settings: Any, pg_engine: Any, pg_url: str) -> None:  # noqa: F811
    from tools.demo_data import seed_demo

    seed_demo(pg_engine, tenant="default", today=datetime.now(UTC).date())
    headers = bearer(pg_engine, "default", ("agent", "admin"))
    with make_client(settings.model_copy(update={"database_url": pg_url}), pg_engine) as client:
        run = Script(client, headers)
        resolved = run.open()
        run.say(resolved, "Where is my order? What is the status?")
        run.feedback(resolved, "up")
        handed = run.open(channel="zendesk")
        assert handoff_reason(run.say(handed, "Can I speak to a human please?")) == "other"
        draft = run.post(f"/v1/conversations/{handed}/draft")
        assert run.post(f"/v1/conversations/{handed}/drafts/{draft['message_id']}/used")["recorded"]
        run.csat(handed, 4)
        naive_from = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
        body = client.get("/v1/outcomes", params={"from": naive_from, "group_by": "channel"}, headers=headers)
        assert body.status_code == 200, body.text
    totals = body.json()["totals"]
    assert (totals["conversations"], totals["resolved_without_human"]) == (2, 1)
    assert totals["handoffs"] == {"total": 1, "by_reason": {"other": 1}}
    assert totals["drafts"] == {"suggested": 1, "used": 1, "used_rate": 1.0}
    assert (totals["feedback"]["up"], totals["csat"]["responses"], totals["csat"]["average"]) == (1, 1, 4.0)
    assert [g["channel"] for g in body.json()["groups"]] == ["api", "zendesk"]
