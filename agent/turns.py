"""The shapes of a turn: what a channel asks for, what comes back, what streams, and the sinks it needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agent.context import ValueRedactor
from agent.images import ImageRef


class AuditSink(Protocol):
    def record(
        self,
        *,
        tenant: str,
        type: str,
        actor: str | None = None,
        conversation_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any: ...


class Redactor(ValueRedactor, Protocol):
    async def aredact(self, text: str, *, tenant: str, conversation_id: str) -> Any: ...

    def restore(self, text: str, *, tenant: str, conversation_id: str) -> str: ...


@dataclass(frozen=True)
class TurnRequest:
    tenant: str
    conversation_id: str
    text: str
    customer_id: str | None = None
    actor: str | None = None  # api key id (or staff id) driving the turn
    channel: str = "api"
    draft_only: bool = False
    images: tuple[ImageRef, ...] = ()


@dataclass
class TurnResult:
    conversation_id: str
    reply: str  # restored: real values, for the customer or staff
    reply_redacted: str
    user_text_redacted: str
    citations: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    model: str
    degraded: bool
    usage: dict[str, Any]
    redactions: dict[str, int]
    pending_approval: str | None = None
    handoff: dict[str, Any] | None = None


@dataclass(frozen=True)
class TurnEvent:
    kind: Literal["token", "reset", "tool", "final"]  # reset: discard the tokens streamed so far
    data: Any


async def final_result(events: AsyncIterator[TurnEvent]) -> TurnResult:
    """Drains a turn's event stream and returns its final result (for callers that do not stream)."""
    result: TurnResult | None = None
    async for event in events:
        if event.kind == "final":
            result = event.data
    if result is None:
        raise RuntimeError("the turn ended without a final result")
    return result
