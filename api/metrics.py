"""Prometheus metrics: turns, latency, tokens, cost, tools and approvals (labels never carry PII)."""

from __future__ import annotations

from typing import Any, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from agent.turns import TurnResult
from tools.base import ReasonCategory

HANDOFF_REASONS = frozenset(get_args(ReasonCategory))
# Audit event types -> (counter attribute, label): the outcome figures that are counters.
_AUDITED = {
    "draft.suggested": ("drafts", "suggested"),
    "draft.used": ("drafts", "used"),
    "approval.requested": ("approval_outcomes", "proposed"),
    "approval.approved": ("approval_outcomes", "approved"),
    "approval.rejected": ("approval_outcomes", "rejected"),
    "approval.expired": ("approval_outcomes", "expired"),
}


class Metrics:
    """One registry per app, so several apps in one process (tests, workers) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "deskpilot_turns_total",
            "Turns answered.",
            ["channel", "model", "degraded"],
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "deskpilot_turn_seconds",
            "Time to answer one turn.",
            ["channel"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.tokens = Counter(
            "deskpilot_model_tokens_total",
            "Model tokens by kind (cached is part of input).",
            ["model", "kind"],
            registry=self.registry,
        )
        self.cost = Counter(
            "deskpilot_model_cost_usd_total", "Model cost in USD.", ["model"], registry=self.registry
        )
        self.tool_calls = Counter(
            "deskpilot_tool_calls_total", "Tool calls by outcome.", ["tool", "status"], registry=self.registry
        )
        self.approvals = Counter(
            "deskpilot_approval_decisions_total",
            "Staff decisions on sensitive actions.",
            ["decision"],
            registry=self.registry,
        )

        # Outcome counters, fed by committed audit events (observe_audit); /v1/outcomes has the figures.
        self.conversations = Counter(
            "deskpilot_conversations_total", "Conversations started.", ["channel"], registry=self.registry
        )
        self.handoffs = Counter(
            "deskpilot_handoffs_total", "Conversations handed to a human.", ["reason"], registry=self.registry
        )
        self.drafts = Counter(
            "deskpilot_drafts_total", "Staff drafts suggested and used.", ["event"], registry=self.registry
        )
        self.feedback = Counter(
            "deskpilot_feedback_total",
            "Thumbs up or down on replies and drafts.",
            ["rating"],
            registry=self.registry,
        )
        self.csat = Counter(
            "deskpilot_csat_responses_total",
            "CSAT scores sent by channels.",
            ["score"],
            registry=self.registry,
        )
        self.approval_outcomes = Counter(
            "deskpilot_approvals_total",
            "Sensitive actions proposed, and how their approvals ended.",
            ["outcome"],
            registry=self.registry,
        )
        self.turn_failures = Counter(
            "deskpilot_turn_failures_total", "Turns stored as failed.", ["error"], registry=self.registry
        )

    def observe_audit(self, type: str, payload: dict[str, Any]) -> None:
        """An AuditLog listener: counts committed events (labels are fixed vocabularies, never text)."""
        if type in _AUDITED:
            counter, label = _AUDITED[type]
            getattr(self, counter).labels(label).inc()
        elif type == "conversation.created":
            self.conversations.labels(str(payload.get("channel") or "api")).inc()
        elif type == "conversation.needs_human":
            reason = payload.get("reason_category") or payload.get("reason")
            self.handoffs.labels(reason if reason in HANDOFF_REASONS else "other").inc()
        elif type == "feedback.recorded" and payload.get("rating") in ("up", "down"):
            self.feedback.labels(payload["rating"]).inc()
        elif type == "csat.recorded" and payload.get("score") in (1, 2, 3, 4, 5):
            self.csat.labels(str(payload["score"])).inc()
        elif type == "turn.failed":
            self.turn_failures.labels(str(payload.get("error") or "unknown")[:64]).inc()

    def observe_turn(self, result: TurnResult, *, channel: str, seconds: float) -> None:
        self.turns.labels(channel, result.model, str(result.degraded).lower()).inc()
        self.turn_seconds.labels(channel).observe(seconds)
        for call in result.usage.get("calls", []):
            model = call["model"]
            self.tokens.labels(model, "input").inc(call["input_tokens"])
            self.tokens.labels(model, "cached").inc(call["cached_tokens"])
            self.tokens.labels(model, "output").inc(call["output_tokens"])
            self.cost.labels(model).inc(call["cost_usd"])
        for call in result.tool_calls:
            self.tool_calls.labels(call["name"], call["status"]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
