"""What every tool is: a typed argument model, a function, and the trusted context it runs in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel

if TYPE_CHECKING:
    from tools.backends.base import StoreBackend
    from tools.policy import TenantPolicy


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ToolContext:
    """Trusted values from the authenticated request; the model never supplies these."""

    tenant: str
    customer_id: str | None
    backend: StoreBackend
    conversation_id: str | None = None
    actor: str | None = None  # api key id or staff user that drives the turn
    now: Callable[[], datetime] = field(default=utcnow)
    idempotency_key: str | None = None  # set by the approval flow when a sensitive tool executes
    policy: TenantPolicy | None = None  # overrides the backend's policy for this tenant when set


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the agent sees it. The docstring of `fn` is not used: `description` is explicit."""

    name: str
    description: str
    args_model: type[BaseModel]
    fn: Callable[[Any, ToolContext], dict[str, Any]]
    sensitive: bool = False  # moves money or data: needs staff approval before it runs
    # Sensitive tools only: runs the policy without side effects and returns the checks that passed
    # (human-readable), or raises PolicyViolation. Called before an approval is ever created.
    check: Callable[[Any, ToolContext], list[str]] | None = None


# Fixed vocabularies shared by routing, triage and escalation (the model picks from these, nothing else):
# each is a Literal once, and its tuple of values is derived from it.
Queue = Literal["billing", "shipping", "returns", "technical", "account", "general"]
Priority = Literal["low", "normal", "high", "urgent"]
ReasonCategory = Literal["billing_dispute", "angry_customer", "policy_exception", "technical", "other"]
QUEUES: tuple[str, ...] = get_args(Queue)
PRIORITIES: tuple[str, ...] = get_args(Priority)
ESCALATION_REASONS: tuple[str, ...] = get_args(ReasonCategory)
