"""Expected tool failures; every message here is safe to show the model and the customer.

ToolError
├── InvalidArguments      the model's arguments failed validation
├── NotFound              no such order/refund/ticket *for this customer*
├── PolicyViolation       a business rule refuses the action (refund window, amount, state)
├── BackendUnavailable    the store or a remote API could not be reached
├── CustomerRequired      the tool needs a signed-in customer and the request has none
├── ApprovalRequired      a sensitive tool ran without the idempotency key of an approval
└── IdempotencyConflict   an idempotency key was already used for a different action
"""

from __future__ import annotations


class ToolError(Exception):
    """Base class: `str(error)` is returned to the model as the tool result."""

    code = "tool_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_result(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


class InvalidArguments(ToolError):
    code = "invalid_arguments"


class NotFound(ToolError):
    code = "not_found"


class PolicyViolation(ToolError):
    code = "policy_violation"


class BackendUnavailable(ToolError):
    code = "backend_unavailable"


class CustomerRequired(ToolError):
    code = "customer_required"


class ApprovalRequired(ToolError):
    code = "approval_required"


class IdempotencyConflict(ToolError):
    code = "idempotency_conflict"


def order_not_found(order_number: str) -> NotFound:
    """One message for "missing" and "someone else's", so a probe cannot tell them apart."""
    return NotFound(f"No order {order_number} was found for this customer.")
