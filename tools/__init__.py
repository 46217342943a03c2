"""The tool registry: TOOLS in a fixed order (part of the cached prompt prefix) and run_tool.

search_knowledge is listed here for its schema and argument checks; the agent node runs it, since the
knowledge base is the agent's (tools.knowledge_search).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from tools.base import ToolContext, ToolSpec
from tools.errors import InvalidArguments, ToolError
from tools.escalation import ESCALATE_TO_HUMAN
from tools.knowledge_search import SEARCH_KNOWLEDGE
from tools.order_changes import CANCEL_ORDER, UPDATE_SHIPPING_ADDRESS
from tools.orders import LOOKUP_ORDER
from tools.refunds import ISSUE_REFUND, LOOKUP_REFUND
from tools.routing import ROUTE_TICKET

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        LOOKUP_ORDER,
        LOOKUP_REFUND,
        ROUTE_TICKET,
        ESCALATE_TO_HUMAN,
        ISSUE_REFUND,
        CANCEL_ORDER,
        UPDATE_SHIPPING_ADDRESS,
        SEARCH_KNOWLEDGE,  # last: appending keeps the earlier tools' bytes of the cached prefix
    )
}
SENSITIVE_TOOLS: frozenset[str] = frozenset(name for name, spec in TOOLS.items() if spec.sensitive)

__all__ = [
    "SENSITIVE_TOOLS",
    "TOOLS",
    "ToolContext",
    "ToolError",
    "ToolSpec",
    "check_tool",
    "parse_args",
    "run_tool",
]


def parse_args(name: str, raw_args: Any) -> tuple[ToolSpec, BaseModel]:
    """The tool and its validated arguments; InvalidArguments names the bad fields, never their values."""
    spec = TOOLS.get(name)
    if spec is None:
        raise InvalidArguments(f"Unknown tool {name!r}.")
    if not isinstance(raw_args, dict):
        raise InvalidArguments(f"Arguments for {name} must be a JSON object.")
    try:
        return spec, spec.args_model.model_validate(raw_args)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in e['loc']) or 'arguments'}: {e['msg']}"
            for e in error.errors()[:3]
        ]
        raise InvalidArguments(f"Invalid arguments for {name}: " + "; ".join(problems)) from None


def run_tool(name: str, raw_args: Any, ctx: ToolContext) -> dict[str, Any]:
    """Validate and run one tool call; ToolError (including InvalidArguments) propagates to the caller."""
    spec, args = parse_args(name, raw_args)
    return spec.fn(args, ctx)


def check_tool(name: str, raw_args: Any, ctx: ToolContext) -> list[str]:
    """For a sensitive tool: the policy checks that pass, without side effects, or PolicyViolation."""
    spec, args = parse_args(name, raw_args)
    if spec.check is None:
        raise InvalidArguments(f"{name} needs no approval and has no policy check.")
    return spec.check(args, ctx)
