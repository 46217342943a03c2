"""The shapes of a turn: what a channel asks for, what comes back, what streams, and the sinks it needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agent.images import ImageRef
from tools.policy import TenantPolicy


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


class ValueRedactor(Protocol):
    """The part of agent.pii.Redactor the tool node needs (restore args, redact results)."""

    vault: Any

    def redact(self, text: str, *, tenant: str, conversation_id: str) -> Any: ...

    def restore_value(self, obj: Any, *, tenant: str, conversation_id: str) -> Any: ...


class Redactor(ValueRedactor, Protocol):
    async def aredact(self, text: str, *, tenant: str, conversation_id: str) -> Any: ...

    def restore(self, text: str, *, tenant: str, conversation_id: str) -> str: ...


ToolStatus = Literal["ok", "error", "pending_approval"]


@dataclass(frozen=True)
class ToolEvent:
    """One tool call of a turn as it ran: arguments and result hold placeholders, never raw PII."""

    name: str
    args: dict[str, Any]
    status: ToolStatus
    result: Any = None
    tool_call_id: str | None = None

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "args": self.args, "status": self.status, "result": self.result}


ContextRole = Literal["staff", "note"]


@dataclass(frozen=True)
class ContextMessage:
    """Something a human wrote in the helpdesk since the last turn (redacted): a reply or an internal note."""

    role: ContextRole
    text: str
    author: str | None = None


@dataclass(frozen=True)
class TurnRequest:
    tenant: str
    conversation_id: str
    text: str  # the customer's message, redacted already when `redacted` is True; "" for a staff draft
    customer_id: str | None = None
    actor: str | None = None  # api key id (or staff id) driving the turn
    channel: str = "api"
    draft_only: bool = False
    images: tuple[ImageRef, ...] = ()
    message_id: str | None = None  # a stable id for the customer's message in the graph (retries find it)
    redacted: bool = False
    context: tuple[ContextMessage, ...] = ()  # staff replies and notes written since the last turn
    policy: TenantPolicy | None = None  # the tenant's settings; None: the store's own policy
    shop_summary: str | None = None  # the tenant's policy summary for the prompt


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
    passages: list[dict[str, Any]] | None = None  # every passage the turn retrieved, cited or not
    turn_id: str | None = None  # set once the conversation service has stored the turn
    message_id: int | None = None
    draft: bool = False
    degraded_reason: str | None = None  # why `degraded` (api.fail_soft_kb: the knowledge base was down)


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


def content_text(content: Any) -> str:
    """The text of a message's content, whether a string or a list of parts (images are skipped)."""
    if isinstance(content, str):
        return content
    return "".join(
        p.get("text", "") if isinstance(p, dict) else str(p)
        for p in content
        if not isinstance(p, dict) or p.get("type", "text") == "text"
    )
