"""Per-turn runtime context: trusted values and services the nodes use; never checkpointed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.messages import SystemMessage

from agent.turns import AuditSink, ToolEvent, ValueRedactor
from tools.backends.base import StoreBackend
from tools.base import ToolContext
from tools.policy import TenantPolicy


class Retriever(Protocol):
    def search(self, tenant: str, query: str, k: int = 5) -> list[Any]: ...


class ApprovalDesk(Protocol):
    """Owns sensitive tool calls from proposal to execution (implemented by api.approvals)."""

    async def propose(
        self, ctx: TurnContext, *, tool_call_id: str, tool: str, args: dict[str, Any]
    ) -> ToolEvent:
        """Checks the policy and records a pending approval; a refusal comes back as an error event."""
        ...

    async def settle(
        self, ctx: TurnContext, pending: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], Any, str]]:
        """Pauses the graph until staff decide, then executes approved calls exactly once."""
        ...


@dataclass(frozen=True)
class AgentServices:
    """What every turn uses, built once at start-up from Settings (the one place that holds defaults)."""

    backend: StoreBackend
    model: Any  # a FallbackChatModel already bound to the tool schemas
    audit: AuditSink  # tool calls are recorded as they run, so a crash cannot lose them
    retrieval_k: int
    max_steps: int
    redactor: ValueRedactor | None = None
    retriever: Retriever | None = None
    approvals: ApprovalDesk | None = None
    cache_keys: Any = None  # PromptCacheKeys: one key per model call, bucketed by traffic


@dataclass
class TurnContext:
    tenant: str
    conversation_id: str
    customer_id: str | None
    actor: str | None
    services: AgentServices
    policy: TenantPolicy | None = None  # the tenant's settings; None: the store's own policy
    shop_message: SystemMessage | None = None  # the tenant's policy summary, right after the static prefix
    draft_only: bool = False  # a human owns the conversation: suggest, do not act
    tool_events: list[ToolEvent] = field(default_factory=list)  # filled by the tool nodes
    redaction_counts: dict[str, int] = field(default_factory=dict)
    step_limit_reached: bool = False

    def tool_context(self, *, idempotency_key: str | None = None) -> ToolContext:
        """The trusted values a tool runs with: from the authenticated request, never from the model."""
        return ToolContext(
            tenant=self.tenant,
            customer_id=self.customer_id,
            backend=self.services.backend,
            conversation_id=self.conversation_id,
            actor=self.actor,
            policy=self.policy,
            idempotency_key=idempotency_key,
        )

    def restore(self, args: Any) -> Any:
        """Placeholders in the model's arguments turned back into real values, on the trusted side."""
        redactor = self.services.redactor
        if redactor is None:
            return args
        return redactor.restore_value(args, tenant=self.tenant, conversation_id=self.conversation_id)
