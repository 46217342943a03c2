"""Per-turn runtime context: trusted values and services the nodes use; never checkpointed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.backends.base import StoreBackend


class Retriever(Protocol):
    def search(self, tenant: str, query: str, k: int = 5) -> list[Any]: ...


class ValueRedactor(Protocol):
    """The part of agent.pii.Redactor the tool node needs (restore args, redact results)."""

    vault: Any

    def redact(self, text: str, *, tenant: str, conversation_id: str) -> Any: ...

    def restore_value(self, obj: Any, *, tenant: str, conversation_id: str) -> Any: ...


class ApprovalDesk(Protocol):
    """Where sensitive tool calls wait for staff (implemented by api.approvals)."""

    def request(
        self,
        *,
        tenant: str,
        conversation_id: str,
        customer_id: str | None,
        actor: str | None,
        tool_call_id: str,
        tool: str,
        args: dict[str, Any],
        checks: list[str],
    ) -> str: ...

    def decision(self, approval_id: str) -> tuple[str, str | None]: ...

    def execute(self, approval_id: str, run: Callable[[StoreBackend], dict[str, Any]]) -> dict[str, Any]: ...


@dataclass
class TurnContext:
    tenant: str
    conversation_id: str
    customer_id: str | None
    actor: str | None
    backend: StoreBackend
    model: Any  # a chat model (or FallbackChatModel) already bound to the tool schemas
    redactor: ValueRedactor | None = None
    retriever: Retriever | None = None
    approvals: ApprovalDesk | None = None
    retrieval_k: int = 4
    max_steps: int = 6
    draft_only: bool = False  # a human owns the conversation: suggest, do not act
    cache_keys: Any = None  # PromptCacheKeys: one key per model call, bucketed by traffic
    tool_events: list[dict[str, Any]] = field(default_factory=list)  # filled by the tool node
    redaction_counts: dict[str, int] = field(default_factory=dict)
