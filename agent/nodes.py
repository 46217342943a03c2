"""Graph nodes: retrieve -> model <-> tools, with an honest stop when the step limit is reached.

Sensitive tool calls are handed to the approval desk (api.approvals), which owns them from the policy
check to the exactly-once execution; the nodes only route them. Every tool call is audited as it runs.
"""

from __future__ import annotations

import json
from typing import Any, Literal, overload

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langgraph.runtime import Runtime
from starlette.concurrency import run_in_threadpool

from agent.context import TurnContext
from agent.offline.messages import last_customer_message_index, message_text
from agent.prompts import (
    DRAFT_FALLBACK_REPLY,
    STEP_LIMIT_REPLY,
    SYSTEM_PROMPT,
    draft_mode_message,
    reference_message,
)
from agent.spans import QUIET, tool_span, tracer
from agent.state import AgentState
from agent.tool_results import redact_result
from agent.turns import ToolEvent, ToolStatus
from tools import SENSITIVE_TOOLS, parse_args, run_tool
from tools.errors import BackendUnavailable, PolicyViolation, ToolError
from tools.knowledge_search import SEARCH_K, SEARCH_KNOWLEDGE, passage_results

SYSTEM_MESSAGE = SystemMessage(content=SYSTEM_PROMPT)


async def retrieve(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Appends this turn's context (passages, the draft-mode note) as messages that stay in the history,
    so the next request starts with this one and the provider's prompt cache keeps hitting."""
    ctx = runtime.context
    services = ctx.services
    added: list[AnyMessage] = []
    passages: list[dict[str, Any]] = []
    asked = last_customer_message_index(state["messages"])
    if services.retriever is not None and services.retrieval_k > 0 and asked is not None:
        query = message_text(state["messages"][asked])
        attributes = {"deskpilot.k": services.retrieval_k}
        with tracer.start_as_current_span("deskpilot.retrieve", attributes=attributes, **QUIET) as span:
            found = await run_in_threadpool(
                services.retriever.search, ctx.tenant, query, services.retrieval_k
            )
            span.set_attribute("deskpilot.passages", len(found))
        passages = [_passage_dict(p) for p in found]
        added.append(reference_message(passages))
    if ctx.draft_only:
        added.append(draft_mode_message())
    return {"model_calls": 0, "passages": passages, "messages": added}


async def call_model(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    services = ctx.services
    prefix: list[AnyMessage] = [SYSTEM_MESSAGE, *([ctx.shop_message] if ctx.shop_message else [])]
    extra = (
        {"prompt_cache_key": services.cache_keys.key_for(ctx.tenant, ctx.conversation_id)}
        if services.cache_keys
        else {}
    )
    reply = await services.model.ainvoke([*prefix, *state["messages"]], **extra)
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

    Sensitive calls go to the approval desk, which checks the policy and records a pending approval;
    they wait in `pending` for the next node, so nothing here re-runs when the graph resumes.
    """
    ctx = runtime.context
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    results: list[ToolMessage] = []
    pending: list[dict[str, Any]] = []
    passages: list[dict[str, Any]] = list(state.get("passages") or [])
    for call in last.tool_calls:
        call_id, name, args = str(call["id"]), call["name"], call.get("args") or {}
        if name == SEARCH_KNOWLEDGE.name:
            with tool_span(call_id, name) as span:
                searched, outcome, found = await _search_knowledge(ctx, args, len(passages) + 1)
                span.set_attribute("deskpilot.tool.status", outcome)
            message, shown = await _tool_message(
                ctx, call_id, name, args, searched, outcome, keep_result=True
            )
            # The passages join the turn's citable list as the model read them (redacted), so a reply's
            # [n] markers resolve to them like to the automatic ones.
            for passage, item in zip(found, (shown or {}).get("passages") or [], strict=False):
                passages.append(
                    {
                        **passage,
                        "title": item.get("title"),
                        "section": item.get("section"),
                        "text": item.get("passage"),
                    }
                )
            results.append(message)
            continue
        if name in SENSITIVE_TOOLS:
            with tool_span(call_id, name) as span:
                event = await _propose(ctx, call_id, name, args)
                span.set_attribute("deskpilot.tool.status", event.status)
            if event.status == "pending_approval":
                pending.append(
                    {
                        "approval_id": event.result["approval_id"],
                        "tool_call_id": call_id,
                        "name": name,
                        "args": args,
                    }
                )
                await _note(ctx, event)
                continue
            results.append(await _tool_message(ctx, call_id, name, args, event.result, event.status))
            continue
        with tool_span(call_id, name) as span:
            try:
                result: Any = await run_in_threadpool(run_tool, name, ctx.restore(args), ctx.tool_context())
                status: ToolStatus = "ok"
            except ToolError as error:
                result, status = error.as_result(), "error"
            span.set_attribute("deskpilot.tool.status", status)
        results.append(await _tool_message(ctx, call_id, name, args, result, status))
    update: dict[str, Any] = {"messages": results, "pending": pending}
    if len(passages) != len(state.get("passages") or []):
        update["passages"] = passages
    return update


async def _search_knowledge(
    ctx: TurnContext, args: Any, first_number: int
) -> tuple[dict[str, Any], ToolStatus, list[dict[str, Any]]]:
    """The model's own query against the tenant's help centre. The query is searched as the model wrote
    it (placeholders stay placeholders: the knowledge base never needs the customer's real values)."""
    retriever = ctx.services.retriever
    try:
        _, parsed = parse_args(SEARCH_KNOWLEDGE.name, args)
        if retriever is None:
            raise BackendUnavailable("No help centre is configured for this assistant.")
        query = str(parsed.query)  # type: ignore[attr-defined]
        found = await run_in_threadpool(retriever.search, ctx.tenant, query, SEARCH_K)
    except ToolError as error:
        return error.as_result(), "error", []
    result, passages = passage_results(found, first_number)
    return result, "ok", passages


async def _propose(ctx: TurnContext, call_id: str, name: str, args: dict[str, Any]) -> ToolEvent:
    desk = ctx.services.approvals
    if desk is None:
        refusal = PolicyViolation("Changes like this need a staff member, and none is available here.")
        return ToolEvent(name, args, "error", refusal.as_result(), call_id)
    return await desk.propose(ctx, tool_call_id=call_id, tool=name, args=args)


async def await_approval(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Pauses until staff decide (the desk interrupts the graph), then reports each outcome to the model."""
    ctx = runtime.context
    assert ctx.services.approvals is not None
    outcomes = await ctx.services.approvals.settle(ctx, state.get("pending") or [])
    messages = [
        await _tool_message(ctx, item["tool_call_id"], item["name"], item["args"], result, status)
        for item, result, status in outcomes
    ]
    return {"messages": messages, "pending": []}


@overload
async def _tool_message(
    ctx: TurnContext, call_id: str, name: str, args: Any, result: Any, status: str
) -> ToolMessage: ...
@overload
async def _tool_message(
    ctx: TurnContext,
    call_id: str,
    name: str,
    args: Any,
    result: Any,
    status: str,
    *,
    keep_result: Literal[True],
) -> tuple[ToolMessage, Any]: ...
async def _tool_message(
    ctx: TurnContext,
    call_id: str,
    name: str,
    args: Any,
    result: Any,
    status: str,
    *,
    keep_result: bool = False,
) -> ToolMessage | tuple[ToolMessage, Any]:
    """Redacts the result before the model (or the checkpoint) sees it, and records the call;
    `keep_result` also returns the redacted result."""
    redactor = ctx.services.redactor
    if redactor is not None:
        result, counts = await run_in_threadpool(
            redact_result, redactor, result, tenant=ctx.tenant, conversation_id=ctx.conversation_id
        )
        for entity, count in counts.items():
            ctx.redaction_counts[entity] = ctx.redaction_counts.get(entity, 0) + count
    await _note(ctx, ToolEvent(name, args, status, result, call_id))  # type: ignore[arg-type]
    message = ToolMessage(
        content=json.dumps(result, ensure_ascii=False, default=str),
        tool_call_id=call_id,
        name=name,
        status="error" if status == "error" else "success",
    )
    return (message, result) if keep_result else message


async def _note(ctx: TurnContext, event: ToolEvent) -> None:
    """Keeps the event for the reply and audits it now, so a crash later in the turn cannot lose it."""
    ctx.tool_events.append(event)
    await run_in_threadpool(
        lambda: ctx.services.audit.record(
            tenant=ctx.tenant,
            type=tool_event_type(event),
            actor=ctx.actor,
            conversation_id=ctx.conversation_id,
            payload={
                "tool": event.name,
                "tool_call_id": event.tool_call_id,
                "args": event.args,
                "status": event.status,
                "result_status": _result_status(event),
            },
        )
    )


def tool_event_type(event: ToolEvent) -> str:
    if event.status == "pending_approval":
        return "approval.requested"
    if event.name in SENSITIVE_TOOLS:
        return "approval.policy_refused" if event.status == "error" else "tool.executed"
    return "tool.called"


def _result_status(event: ToolEvent) -> str:
    if isinstance(event.result, dict) and "error" in event.result:
        return str(event.result["error"])
    return event.status


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
    runtime.context.step_limit_reached = True
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
    if state.get("model_calls", 0) >= runtime.context.services.max_steps:
        return "give_up"
    return "tools"


def _passage_dict(passage: Any) -> dict[str, Any]:
    data = passage if isinstance(passage, dict) else passage.model_dump()
    return {
        key: data.get(key)
        for key in ("chunk_id", "document_id", "title", "section", "source", "text", "score", "flagged")
    }
