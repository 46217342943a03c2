"""Graph nodes: retrieve -> model <-> tools, with an honest stop when the step limit is reached."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from starlette.concurrency import run_in_threadpool

from agent.context import TurnContext
from agent.offline import message_text
from agent.prompts import (
    DRAFT_FALLBACK_REPLY,
    STEP_LIMIT_REPLY,
    SYSTEM_PROMPT,
    draft_mode_message,
    reference_message,
)
from agent.state import AgentState
from agent.tool_results import redact_result
from tools import TOOLS, check_tool, run_tool
from tools.base import ToolContext
from tools.errors import PolicyViolation, ToolError

SYSTEM_MESSAGE = SystemMessage(content=SYSTEM_PROMPT)


async def retrieve(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Appends this turn's context (passages, the draft-mode note) as messages that stay in the history,
    so the next request starts with this one and the provider's prompt cache keeps hitting."""
    ctx = runtime.context
    added: list[AnyMessage] = []
    passages: list[dict[str, Any]] = []
    if ctx.retriever is not None and ctx.retrieval_k > 0:
        query = message_text(state["messages"][-1])
        found = await run_in_threadpool(ctx.retriever.search, ctx.tenant, query, ctx.retrieval_k)
        passages = [_passage_dict(p) for p in found]
        added.append(reference_message(passages))
    if ctx.draft_only:
        added.append(draft_mode_message())
    return {"model_calls": 0, "passages": passages, "messages": added}


async def call_model(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    messages: list[AnyMessage] = [SYSTEM_MESSAGE, *state["messages"]]
    extra = (
        {"prompt_cache_key": ctx.cache_keys.key_for(ctx.tenant, ctx.conversation_id)}
        if ctx.cache_keys
        else {}
    )
    reply = await ctx.model.ainvoke(messages, **extra)
    if ctx.draft_only and isinstance(reply, AIMessage) and reply.tool_calls:
        # A human owns the conversation: the copilot drafts, it does not act.
        reply = AIMessage(
            content=str(reply.content) or DRAFT_FALLBACK_REPLY,
            response_metadata=reply.response_metadata,
            usage_metadata=reply.usage_metadata,
            id=reply.id,
        )
    return {"messages": [reply], "model_calls": state.get("model_calls", 0) + 1}


async def run_tools(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Runs the model's tool calls on the trusted side: real values in, redacted results out.

    Sensitive calls only have their policy checked here; those that pass become approval requests and
    wait in `pending` for the next node, so nothing here re-runs when the graph resumes.
    """
    ctx = runtime.context
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    tool_ctx = _tool_context(ctx)
    results: list[ToolMessage] = []
    pending: list[dict[str, Any]] = []
    for call in last.tool_calls:
        name, args = call["name"], call.get("args") or {}
        trusted_args = _restore(ctx, args)
        spec = TOOLS.get(name)
        try:
            if spec is not None and spec.sensitive:
                checks = await run_in_threadpool(check_tool, name, trusted_args, tool_ctx)
                if ctx.approvals is None:
                    raise PolicyViolation(
                        "Changes like this need a staff member, and none is available here."
                    )
                approval_id = await run_in_threadpool(
                    partial(
                        ctx.approvals.request,
                        tenant=ctx.tenant,
                        conversation_id=ctx.conversation_id,
                        customer_id=ctx.customer_id,
                        actor=ctx.actor,
                        tool_call_id=str(call["id"]),
                        tool=name,
                        args=args,
                        checks=checks,
                    )
                )
                pending.append(
                    {"approval_id": approval_id, "tool_call_id": call["id"], "name": name, "args": args}
                )
                ctx.tool_events.append(
                    {
                        "name": name,
                        "args": args,
                        "status": "pending_approval",
                        "result": {"approval_id": approval_id, "checks": checks},
                    }
                )
                continue
            result: Any = await run_in_threadpool(run_tool, name, trusted_args, tool_ctx)
            status = "ok"
        except ToolError as error:
            result, status = error.as_result(), "error"
        results.append(_tool_message(ctx, str(call["id"]), name, args, result, status))
    return {"messages": results, "pending": pending}


async def await_approval(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Pauses until staff decide, then executes approved calls exactly once.

    The interrupt comes first: when the graph resumes this node runs again from the top, so nothing
    before it may have side effects. Decisions are read from the approval records, not the resume value,
    and execution is idempotent on the approval id, so a resume after a crash cannot refund twice.
    """
    pending = state.get("pending") or []
    interrupt({"approvals": [p["approval_id"] for p in pending]})
    ctx = runtime.context
    assert ctx.approvals is not None
    messages: list[ToolMessage] = []
    for item in pending:
        decision, note = await run_in_threadpool(ctx.approvals.decision, item["approval_id"])
        if decision == "rejected":
            result: Any = {
                "error": "rejected_by_staff",
                "approval_id": item["approval_id"],
                "message": "A staff member declined this request." + (f" Their note: {note}" if note else ""),
            }
            status = "error"
        else:
            trusted_args = _restore(ctx, item["args"])
            exec_ctx = replace(_tool_context(ctx), idempotency_key=item["approval_id"])

            def run(
                backend: Any, name: str = item["name"], args: Any = trusted_args, base: ToolContext = exec_ctx
            ) -> dict[str, Any]:
                return run_tool(name, args, replace(base, backend=backend))

            try:
                result = await run_in_threadpool(ctx.approvals.execute, item["approval_id"], run)
                status = "error" if "error" in result else "ok"
            except ToolError as error:
                result, status = error.as_result(), "error"
        messages.append(_tool_message(ctx, item["tool_call_id"], item["name"], item["args"], result, status))
    return {"messages": messages, "pending": []}


def _tool_context(ctx: TurnContext) -> ToolContext:
    return ToolContext(
        tenant=ctx.tenant,
        customer_id=ctx.customer_id,
        backend=ctx.backend,
        conversation_id=ctx.conversation_id,
        actor=ctx.actor,
    )


def _restore(ctx: TurnContext, args: Any) -> Any:
    if ctx.redactor is None:
        return args
    return ctx.redactor.restore_value(args, tenant=ctx.tenant, conversation_id=ctx.conversation_id)


def _tool_message(
    ctx: TurnContext, call_id: str, name: str, args: Any, result: Any, status: str
) -> ToolMessage:
    """Redacts the result before the model (or the checkpoint) sees it, and notes it for the reply."""
    if ctx.redactor is not None:
        result, counts = redact_result(
            ctx.redactor, result, tenant=ctx.tenant, conversation_id=ctx.conversation_id
        )
        for entity, count in counts.items():
            ctx.redaction_counts[entity] = ctx.redaction_counts.get(entity, 0) + count
    ctx.tool_events.append({"name": name, "args": args, "status": status, "result": result})
    return ToolMessage(
        content=json.dumps(result, ensure_ascii=False, default=str),
        tool_call_id=call_id,
        name=name,
        status="error" if status == "error" else "success",
    )


async def give_up(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Closes pending tool calls (the API requires an answer to each) and says honestly what happened."""
    last = state["messages"][-1]
    closing: list[AnyMessage] = []
    if isinstance(last, AIMessage):
        closing = [
            ToolMessage(
                content=json.dumps({"error": "step_limit", "message": "not run: step limit reached"}),
                tool_call_id=str(call["id"]),
                name=call["name"],
                status="error",
            )
            for call in last.tool_calls
        ]
    runtime.context.tool_events.append({"name": "step_limit", "args": {}, "status": "error", "result": None})
    return {
        "messages": [
            *closing,
            AIMessage(content=STEP_LIMIT_REPLY, response_metadata={"model_name": "deskpilot-step-limit"}),
        ]
    }


def route_after_tools(state: AgentState) -> Literal["await_approval", "model"]:
    return "await_approval" if state.get("pending") else "model"


def route_after_model(
    state: AgentState, runtime: Runtime[TurnContext]
) -> Literal["tools", "give_up", "__end__"]:
    last = state["messages"][-1]
    if not isinstance(last, AIMessage) or not last.tool_calls:
        return "__end__"
    if state.get("model_calls", 0) >= runtime.context.max_steps:
        return "give_up"
    return "tools"


def _passage_dict(passage: Any) -> dict[str, Any]:
    data = passage if isinstance(passage, dict) else passage.model_dump()
    return {
        key: data.get(key)
        for key in ("chunk_id", "document_id", "title", "section", "source", "text", "score", "flagged")
    }
