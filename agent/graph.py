"""The Deskpilot graph: retrieve -> model <-> tools (-> await_approval), ending on a reply or a clear stop."""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.context import TurnContext
from agent.nodes import (
    await_approval,
    call_model,
    give_up,
    retrieve,
    route_after_model,
    route_after_tools,
    run_tools,
)
from agent.state import AgentState


def build_graph(
    checkpointer: BaseCheckpointSaver | None,
) -> CompiledStateGraph[AgentState, TurnContext, AgentState, AgentState]:
    """Built per process with the caller's checkpointer, never at import time."""
    graph = StateGraph(AgentState, context_schema=TurnContext)
    graph.add_node("retrieve", retrieve)
    graph.add_node("model", call_model)
    graph.add_node("tools", run_tools)
    graph.add_node("await_approval", await_approval)
    graph.add_node("give_up", give_up)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "model")
    graph.add_conditional_edges("model", route_after_model, ["tools", "give_up", END])
    graph.add_conditional_edges("tools", route_after_tools, ["await_approval", "model"])
    graph.add_edge("await_approval", "model")
    graph.add_edge("give_up", END)
    return graph.compile(checkpointer=checkpointer, name="deskpilot")
