"""run_turn: the one entry every channel calls. Redact -> graph -> restore, with audit events.

Only redacted text enters the graph, so checkpoints, model requests, logs and audit payloads hold
placeholders; the real values come back only in the restored reply handed to the caller.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from starlette.concurrency import run_in_threadpool

from agent.cache_keys import PromptCacheKeys
from agent.context import ApprovalDesk, Retriever, TurnContext
from agent.offline import OFFLINE_MODEL_NAME
from agent.pricing import PRICES, ModelPrice, sum_usage
from agent.prompts import PENDING_APPROVAL_REPLY
from agent.streaming import PlaceholderStream
from agent.turns import AuditSink, Redactor, TurnEvent, TurnRequest, TurnResult, final_result
from tools import SENSITIVE_TOOLS
from tools.backends.base import StoreBackend

log = logging.getLogger(__name__)
CITATION_RE = re.compile(r"\[(\d{1,2})\]")


@dataclass
class AgentService:
    graph: CompiledStateGraph[Any, Any, Any, Any]
    model: Any  # FallbackChatModel: what call_model invokes
    backend: StoreBackend
    audit: AuditSink
    redactor: Redactor | None = None
    retriever: Retriever | None = None
    retrieval_k: int = 4
    max_steps: int = 6
    primary_model: str = "gpt-4o"
    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: dict(PRICES))
    cache_keys: PromptCacheKeys = field(default_factory=PromptCacheKeys)
    approvals: ApprovalDesk | None = None

    async def run_turn(self, request: TurnRequest) -> TurnResult:
        return await final_result(self.stream_turn(request))

    async def stream_turn(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        """Yields token deltas (restored), tool calls as they finish, then the final TurnResult."""
        scope = {"tenant": request.tenant, "conversation_id": request.conversation_id}
        user_text, counts = await self._redact(request.text, scope)
        await self._audit(
            tenant=request.tenant,
            type="turn.received",
            actor=request.actor,
            conversation_id=request.conversation_id,
            payload={
                "channel": request.channel,
                "content": user_text,
                "redactions": counts,
                "draft_only": request.draft_only,
                "images": [image.audit_record() for image in request.images],
            },
        )
        content: Any = user_text
        if request.images:
            content = [
                {"type": "text", "text": user_text},
                *(image.message_part() for image in request.images),
            ]
        human = HumanMessage(content=content, id=f"msg_{uuid.uuid4().hex}")
        async for event in self._run(request, {"messages": [human]}, user_text, counts):
            yield event

    async def resume(self, request: TurnRequest) -> TurnResult:
        """Continues a turn paused for approval, once staff have decided (`request.text` is unused)."""
        return await final_result(self._run(request, Command(resume={"decided": True}), "", {}))

    async def pending_approvals(self, tenant: str, conversation_id: str) -> list[str]:
        """Approval ids the conversation's graph is paused on (empty when it is not paused)."""
        state = await self.graph.aget_state(_config(tenant, conversation_id))
        if "await_approval" not in (state.next or ()):
            return []
        return [p["approval_id"] for p in state.values.get("pending") or []]

    async def _run(
        self, request: TurnRequest, graph_input: Any, user_text: str, counts: dict[str, int]
    ) -> AsyncIterator[TurnEvent]:
        scope = {"tenant": request.tenant, "conversation_id": request.conversation_id}
        ctx = TurnContext(
            tenant=request.tenant,
            conversation_id=request.conversation_id,
            customer_id=request.customer_id,
            actor=request.actor,
            backend=self.backend,
            model=self.model,
            redactor=self.redactor,
            retriever=self.retriever,
            retrieval_k=self.retrieval_k,
            max_steps=self.max_steps,
            draft_only=request.draft_only,
            approvals=self.approvals,
            cache_keys=self.cache_keys,
        )
        config = _config(request.tenant, request.conversation_id)
        before = len((await self.graph.aget_state(config)).values.get("messages", []))
        stream = PlaceholderStream(self._restorer(scope))
        streaming: tuple[Any, Any] = (None, None)  # (graph step, model call) whose tokens went out
        reported = 0
        graph: Any = self.graph  # astream's overloads do not cover a list of stream modes with a context
        async for mode, payload in graph.astream(
            graph_input, config, context=ctx, stream_mode=["messages", "updates"]
        ):
            if mode == "messages":
                chunk, meta = payload
                if meta.get("langgraph_node") == "model" and isinstance(chunk, AIMessageChunk):
                    text = chunk.text if isinstance(chunk.text, str) else str(chunk.content)
                    if not text:
                        continue
                    step = meta.get("langgraph_step")
                    if streaming[0] == step and streaming[1] != chunk.id:
                        # The model failed mid-reply and the next one in the chain started over.
                        yield TurnEvent("reset", {"reason": "model_fallback"})
                        stream = PlaceholderStream(self._restorer(scope))
                    streaming = (step, chunk.id)
                    if delta := stream.feed(text):
                        yield TurnEvent("token", delta)
            while reported < len(ctx.tool_events):
                yield TurnEvent("tool", self._public_tool_event(ctx.tool_events[reported], scope))
                reported += 1
        if tail := stream.flush():
            yield TurnEvent("token", tail)

        state = await self.graph.aget_state(config)
        paused = "await_approval" in (state.next or ())
        result = self._result(request, state.values, before, paused, user_text, counts, ctx, scope)
        for event in ctx.tool_events:
            await self._audit(
                tenant=request.tenant,
                type=_tool_event_type(event),
                actor=request.actor,
                conversation_id=request.conversation_id,
                payload={
                    "tool": event["name"],
                    "args": event["args"],
                    "status": event["status"],
                    "result_status": _result_status(event),
                },
            )
        await self._audit(
            tenant=request.tenant,
            type="reply.sent",
            actor=request.actor,
            conversation_id=request.conversation_id,
            payload={
                "model": result.model,
                "degraded": result.degraded,
                "content": result.reply_redacted,
                "usage": result.usage,
                "citations": [c["chunk_id"] for c in result.citations],
                "pending_approval": result.pending_approval,
            },
        )
        yield TurnEvent("final", result)

    # --- helpers ---------------------------------------------------------------------------------

    async def _audit(self, **event: Any) -> None:
        # A database commit: kept off the event loop so other conversations stream meanwhile.
        await run_in_threadpool(partial(self.audit.record, **event))

    async def _redact(self, text: str, scope: dict[str, str]) -> tuple[str, dict[str, int]]:
        if self.redactor is None:
            return text, {}
        redaction = await self.redactor.aredact(text, **scope)
        return redaction.text, dict(redaction.counts)

    def _restorer(self, scope: dict[str, str]) -> Any:
        if self.redactor is None:
            return lambda text: text
        redactor = self.redactor
        return lambda text: redactor.restore(text, **scope)

    def _public_tool_event(self, event: dict[str, Any], scope: dict[str, str]) -> dict[str, Any]:
        return {
            "name": event["name"],
            "args": event["args"],
            "status": event["status"],
            "result": event["result"],
        }

    def _result(
        self,
        request: TurnRequest,
        values: dict[str, Any],
        before: int,
        paused: bool,
        user_text: str,
        counts: dict[str, int],
        ctx: TurnContext,
        scope: dict[str, str],
    ) -> TurnResult:
        this_turn = values.get("messages", [])[before:]
        replies = [m for m in this_turn if isinstance(m, AIMessage)]
        final = replies[-1] if replies else AIMessage(content="")
        reply_redacted = str(final.content) if isinstance(final.content, str) else _join_text(final.content)
        pending = [p["approval_id"] for p in values.get("pending") or []] if paused else []
        if pending and not reply_redacted.strip():
            reply_redacted = PENDING_APPROVAL_REPLY
        model = str(
            final.response_metadata.get("deskpilot_model")
            or final.response_metadata.get("model_name")
            or OFFLINE_MODEL_NAME
        )
        redactions = dict(counts)
        for entity, count in ctx.redaction_counts.items():
            redactions[entity] = redactions.get(entity, 0) + count
        handoff = next(
            (
                e["result"]
                for e in ctx.tool_events
                if e["name"] == "escalate_to_human" and e["status"] == "ok"
            ),
            None,
        )
        return TurnResult(
            conversation_id=request.conversation_id,
            reply=self._restorer(scope)(reply_redacted),
            reply_redacted=reply_redacted,
            user_text_redacted=user_text,
            citations=used_citations(reply_redacted, values.get("passages") or []),
            tool_calls=[
                self._public_tool_event(e, scope) for e in ctx.tool_events if e["name"] != "step_limit"
            ],
            model=model,
            degraded=model != self.primary_model or model == OFFLINE_MODEL_NAME,
            usage=sum_usage([r for r in replies if r.response_metadata.get("deskpilot_model")], self.prices),
            redactions=redactions,
            pending_approval=pending[0] if pending else None,
            handoff=handoff if isinstance(handoff, dict) else None,
        )


def thread_id(tenant: str, conversation_id: str) -> str:
    return f"{tenant}:{conversation_id}"


def _config(tenant: str, conversation_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id(tenant, conversation_id)}}


def _tool_event_type(event: dict[str, Any]) -> str:
    if event["status"] == "pending_approval":
        return "approval.requested"
    if event["name"] in SENSITIVE_TOOLS:
        return "approval.policy_refused" if event["status"] == "error" else "tool.executed"
    return "tool.called"


def used_citations(reply: str, passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the passages the reply actually cites with [n] markers, in citation order."""
    cited: list[dict[str, Any]] = []
    for number in dict.fromkeys(int(n) for n in CITATION_RE.findall(reply)):
        if 1 <= number <= len(passages):
            p = passages[number - 1]
            cited.append({k: p.get(k) for k in ("chunk_id", "document_id", "title", "section", "source")})
    return cited


def _result_status(event: dict[str, Any]) -> str:
    result = event.get("result")
    if isinstance(result, dict) and "error" in result:
        return str(result["error"])
    return event["status"]


def _join_text(parts: list[Any]) -> str:
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)
