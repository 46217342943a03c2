"""Prometheus metrics: turns, latency, tokens, cost, tools and approvals (labels never carry PII)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from agent.turns import TurnResult


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
