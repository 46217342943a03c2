"""The graph's checkpointed state: only redacted messages and this turn's bookkeeping."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    passages: list[dict[str, Any]]  # retrieved this turn, numbered [1..n] in the context message
    model_calls: int  # model calls made this turn, for the step limit
    pending: list[
        dict[str, Any]
    ]  # sensitive tool calls waiting for staff: approval_id, tool_call_id, name, args
