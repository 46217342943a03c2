"""The agent service: one turn through the graph, from redacted input to a restored reply.

Only redacted text enters the graph, so checkpoints, model requests, logs and audit payloads hold
placeholders; the real values come back only in the restored reply handed to the caller. Storing the
turn is the conversation service's job (api.conversations); this service runs it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agent.context import AgentServices, TurnContext
from agent.offline import OFFLINE_MODEL_NAME
from agent.pricing import PRICES, ModelPrice, sum_usage
from agent.prompts import PENDING_APPROVAL_REPLY, shop_message, staff_message
from agent.spans import QUIET, tracer
from agent.streaming import PlaceholderStream
from agent.turns import TurnEvent, TurnRequest, TurnResult, content_text, final_result

CITATION_RE = re.compile(r"\[(\d{1,2})\]")


@dataclass
class AgentService:
    graph: CompiledStateGraph[Any, Any, Any, Any]
    services: AgentServices
    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: dict(PRICES))

    @property
    def primary_model(self) -> str:
        return str(self.services.model.primary)

    async def redact(
        self, tenant: str, conversation_id: str, text: str, *, allow_list: Sequence[str] = ()
    ) -> tuple[str, dict[str, int]]:
        """The customer's text with placeholders, and how many values of each type were replaced;
        `allow_list` (the tenant's staff names) is spared."""
        if self.services.redactor is None or not text:
            return text, {}
        attributes = {"deskpilot.chars": len(text)}
        spared = {"allow_list": list(allow_list)} if allow_list else {}
        with tracer.start_as_current_span("deskpilot.redact", attributes=attributes, **QUIET) as span:
            redaction = await self.services.redactor.aredact(  # type: ignore[attr-defined]
                text, tenant=tenant, conversation_id=conversation_id, **spared
            )
            for entity, count in redaction.counts.items():  # counts by type, never the values
                span.set_attribute(f"deskpilot.redactions.{entity}", count)
        return redaction.text, dict(redaction.counts)

    async def run_turn(self, request: TurnRequest) -> TurnResult:
        return await final_result(self.stream_turn(request))

    async def stream_turn(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        """Yields token deltas (restored), tool calls as they finish, then the final TurnResult."""
        text, counts = (
            (request.text, {})
            if request.redacted
            else await self.redact(request.tenant, request.conversation_id, request.text)
        )
        async for event in self._run(request, {"messages": self._input(request, text)}, text, counts):
            yield event

    async def resume(self, request: TurnRequest) -> TurnResult:
        """Continues a turn paused for approval, once staff have decided (`request.text` is unused)."""
        return await final_result(self._run(request, Command(resume={"decided": True}), "", {}))

    async def recover(self, request: TurnRequest) -> TurnResult:
        """Finishes a turn that a crash interrupted: from its last checkpoint when the graph had started
        it, from the stored (redacted) message when it had not. Tool calls already done are not redone."""
        state = await self.graph.aget_state(_config(request.tenant, request.conversation_id))
        if "await_approval" in (state.next or ()):
            return await self.resume(request)  # settle reads each decision from its record
        messages = state.values.get("messages", [])
        at = next((i for i, m in enumerate(messages) if m.id == request.message_id), None)
        acted = at is not None and any(isinstance(m, AIMessage) for m in messages[at + 1 :])
        if not acted:
            # The model had not answered yet, so nothing was done: run the turn from its stored message.
            # The message keeps its id, so the graph replaces it in place instead of adding a second one.
            graph_input: Any = {"messages": self._input(request, request.text)}
            before = at if at is not None else None
            return await final_result(self._run(request, graph_input, request.text, {}, before=before))
        assert at is not None
        return await final_result(
            self._run(request, None, request.text, {}, before=at + 1, run=bool(state.next))
        )

    async def pending_approvals(self, tenant: str, conversation_id: str) -> list[str]:
        """Approval ids the conversation's graph is paused on (empty when it is not paused)."""
        state = await self.graph.aget_state(_config(tenant, conversation_id))
        if "await_approval" not in (state.next or ()):
            return []
        return [p["approval_id"] for p in state.values.get("pending") or []]

    def _input(self, request: TurnRequest, text: str) -> list[AnyMessage]:
        """Staff replies and notes since the last turn, then the customer's message (none for a draft)."""
        messages: list[AnyMessage] = [staff_message(m) for m in request.context]
        if not text and not request.images:
            return messages
        content: Any = text
        if request.images:
            content = [{"type": "text", "text": text}, *(image.message_part() for image in request.images)]
        messages.append(HumanMessage(content=content, id=request.message_id or f"msg_{uuid.uuid4().hex}"))
        return messages

    def _context(self, request: TurnRequest) -> TurnContext:
        return TurnContext(
            tenant=request.tenant,
            conversation_id=request.conversation_id,
            customer_id=request.customer_id,
            actor=request.actor,
            services=self.services,
            policy=request.policy,
            shop_message=shop_message(request.shop_summary) if request.shop_summary else None,
            draft_only=request.draft_only,
        )

    async def _run(
        self,
        request: TurnRequest,
        graph_input: Any,
        user_text: str,
        counts: dict[str, int],
        *,
        before: int | None = None,
        run: bool = True,
    ) -> AsyncIterator[TurnEvent]:
        """Streams one graph run; `before` is where this turn's messages start (default: the end now)."""
        ctx = self._context(request)
        config = _config(request.tenant, request.conversation_id)
        if before is None:
            before = len((await self.graph.aget_state(config)).values.get("messages", []))
        restore = self._restorer(request)
        stream = PlaceholderStream(restore)
        streaming: tuple[Any, Any] = (None, None)  # (graph step, model call) whose tokens went out
        reported = 0
        graph: Any = self.graph  # astream's overloads do not cover a list of stream modes with a context
        updates = graph.astream(graph_input, config, context=ctx, stream_mode=["messages", "updates"])
        async for mode, payload in updates if run else _nothing():
            if mode == "messages":
                chunk, meta = payload
                if meta.get("langgraph_node") == "model" and isinstance(chunk, AIMessageChunk):
                    text = content_text(chunk.content)
                    if not text:
                        continue
                    step = meta.get("langgraph_step")
                    if streaming[0] == step and streaming[1] != chunk.id:
                        # The model failed mid-reply and the next one in the chain started over.
                        yield TurnEvent("reset", {"reason": "model_fallback"})
                        stream = PlaceholderStream(restore)
                    streaming = (step, chunk.id)
                    if delta := stream.feed(text):
                        yield TurnEvent("token", delta)
            while reported < len(ctx.tool_events):
                yield TurnEvent("tool", ctx.tool_events[reported].public())
                reported += 1
        if tail := stream.flush():
            yield TurnEvent("token", tail)
        state = await self.graph.aget_state(config)
        paused = "await_approval" in (state.next or ())
        yield TurnEvent("final", self._result(request, state.values, before, paused, user_text, counts, ctx))

    def _restorer(self, request: TurnRequest) -> Any:
        redactor: Any = self.services.redactor
        if redactor is None:
            return lambda text: text
        scope = {"tenant": request.tenant, "conversation_id": request.conversation_id}
        return lambda text: redactor.restore(text, **scope)

    def _result(
        self,
        request: TurnRequest,
        values: dict[str, Any],
        before: int,
        paused: bool,
        user_text: str,
        counts: dict[str, int],
        ctx: TurnContext,
    ) -> TurnResult:
        this_turn = values.get("messages", [])[before:]
        replies = [m for m in this_turn if isinstance(m, AIMessage)]
        final = replies[-1] if replies else AIMessage(content="")
        reply_redacted = content_text(final.content)
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
            (e.result for e in ctx.tool_events if e.name == "escalate_to_human" and e.status == "ok"), None
        )
        passages = values.get("passages") or []
        return TurnResult(
            conversation_id=request.conversation_id,
            reply=self._restorer(request)(reply_redacted),
            reply_redacted=reply_redacted,
            user_text_redacted=user_text,
            citations=used_citations(reply_redacted, passages),
            tool_calls=[e.public() for e in ctx.tool_events],
            model=model,
            degraded=model != self.primary_model or model == OFFLINE_MODEL_NAME,
            usage=sum_usage([r for r in replies if r.response_metadata.get("deskpilot_model")], self.prices),
            redactions=redactions,
            pending_approval=pending[0] if pending else None,
            handoff=handoff if isinstance(handoff, dict) else None,
            passages=[_citation(p) | {"text": p.get("text")} for p in passages],
        )


async def _nothing() -> AsyncIterator[tuple[str, Any]]:
    return
    yield


def thread_id(tenant: str, conversation_id: str) -> str:
    return f"{tenant}:{conversation_id}"


def _config(tenant: str, conversation_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id(tenant, conversation_id)}}


def used_citations(reply: str, passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the passages the reply actually cites with [n] markers, in citation order."""
    cited: list[dict[str, Any]] = []
    for number in dict.fromkeys(int(n) for n in CITATION_RE.findall(reply)):
        if 1 <= number <= len(passages):
            cited.append(_citation(passages[number - 1]) | {"n": number})
    return cited


def _citation(passage: dict[str, Any]) -> dict[str, Any]:
    return {k: passage.get(k) for k in ("chunk_id", "document_id", "title", "section", "source")}
