"""Graph nodes: retrieve -> model <-> tools, with an honest stop when the step limit is reached."""

from __future__ import annotations

import json
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.runtime import Runtime
from starlette.concurrency import run_in_threadpool

from agent.context import TurnContext
from agent.offline import message_text
from agent.prompts import DRAFT_MODE_NOTE, STEP_LIMIT_REPLY, SYSTEM_PROMPT, reference_message
from agent.state import AgentState
from tools import TOOLS, run_tool
from tools.base import ToolContext
from tools.errors import ToolError

SYSTEM_MESSAGE = SystemMessage(content=SYSTEM_PROMPT)


async def retrieve(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Appends this turn's help-centre passages as one untrusted message; it stays in the history."""
    ctx = runtime.context
    update: dict[str, Any] = {"model_calls": 0, "passages": []}
    if ctx.retriever is None or ctx.retrieval_k <= 0:
        return update
    query = message_text(state["messages"][-1])
    found = await run_in_threadpool(ctx.retriever.search, ctx.tenant, query, ctx.retrieval_k)
    passages = [_passage_dict(p) for p in found]
    update["passages"] = passages
    update["messages"] = [reference_message(passages)]
    return update


async def call_model(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    messages: list[AnyMessage] = [SYSTEM_MESSAGE, *state["messages"]]
    if ctx.draft_only:
        messages.append(HumanMessage(content=DRAFT_MODE_NOTE, name="deskpilot"))
    extra = {"prompt_cache_key": ctx.prompt_cache_key} if ctx.prompt_cache_key else {}
    reply = await ctx.model.ainvoke(messages, **extra)
    if ctx.draft_only and isinstance(reply, AIMessage) and reply.tool_calls:
        # A human owns the conversation: the copilot drafts, it does not act.
        reply = AIMessage(content=str(reply.content) or "", response_metadata=reply.response_metadata,
                          usage_metadata=reply.usage_metadata, id=reply.id)
    return {"messages": [reply], "model_calls": state.get("model_calls", 0) + 1}


async def run_tools(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Runs the model's tool calls on the trusted side: real values in, redacted results out."""
    ctx = runtime.context
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    tool_ctx = ToolContext(tenant=ctx.tenant, customer_id=ctx.customer_id, backend=ctx.backend,
                           conversation_id=ctx.conversation_id, actor=ctx.actor)
    results: list[ToolMessage] = []
    for call in last.tool_calls:
        name, args = call["name"], call.get("args") or {}
        trusted_args = args
        if ctx.redactor is not None:
            trusted_args = ctx.redactor.restore_value(args, tenant=ctx.tenant, conversation_id=ctx.conversation_id)
        try:
            result: Any = await run_in_threadpool(run_tool, name, trusted_args, tool_ctx)
            status = "ok"
        except ToolError as error:
            result, status = error.as_result(), "error"
        if ctx.redactor is not None:
            result, counts = ctx.redactor.redact_value(
                result, tenant=ctx.tenant, conversation_id=ctx.conversation_id
            )
            for entity, count in counts.items():
                ctx.redaction_counts[entity] = ctx.redaction_counts.get(entity, 0) + count
        ctx.tool_events.append({"name": name, "args": args, "status": status, "result": result})
        results.append(ToolMessage(
            content=json.dumps(result, ensure_ascii=False, default=str),
            tool_call_id=call["id"], name=name, status="error" if status == "error" else "success",
        ))
    return {"messages": results}


async def give_up(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Closes pending tool calls (the API requires an answer to each) and says honestly what happened."""
    last = state["messages"][-1]
    closing: list[AnyMessage] = []
    if isinstance(last, AIMessage):
        closing = [
            ToolMessage(content=json.dumps({"error": "step_limit", "message": "not run: step limit reached"}),
                        tool_call_id=call["id"], name=call["name"], status="error")
            for call in last.tool_calls
        ]
    runtime.context.tool_events.append({"name": "step_limit", "args": {}, "status": "error", "result": None})
    return {"messages": [*closing, AIMessage(content=STEP_LIMIT_REPLY,
                                             response_metadata={"model_name": "deskpilot-step-limit"})]}


def route_after_model(state: AgentState, runtime: Runtime[TurnContext]) -> Literal["tools", "give_up", "__end__"]:
    last = state["messages"][-1]
    if not isinstance(last, AIMessage) or not last.tool_calls:
        return "__end__"
    if state.get("model_calls", 0) >= runtime.context.max_steps:
        return "give_up"
    return "tools"


def _passage_dict(passage: Any) -> dict[str, Any]:
    data = passage if isinstance(passage, dict) else passage.model_dump()
    return {key: data.get(key) for key in
            ("chunk_id", "document_id", "title", "section", "source", "text", "score", "flagged")}


