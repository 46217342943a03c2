"""The agent service: one turn through the graph, from redacted input to a restored reply.

Only redacted text enters the graph, so checkpoints, model requests, logs and audit payloads hold
placeholders; the real values come back only in the restored reply handed to the caller. Storing the
turn is the conversation service's job (api.conversations); this service runs it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agent.context import AgentServices, TurnContext
from agent.offline import OFFLINE_MODEL_NAME
from agent.pii.placeholders import PLACEHOLDER
from agent.pricing import PRICES, ModelPrice, sum_usage
from agent.prompts import PENDING_APPROVAL_REPLY, shop_message, staff_message
from agent.spans import QUIET, tracer
from agent.streaming import PlaceholderStream
from agent.turns import TurnEvent, TurnRequest, TurnResult, content_text, final_result

CITATION_RE = re.compile(r"\[(\d{1,2})\]")

# Checkpoints are written when a graph run ends (done, failed or paused for approval), not after every
# step: a turn's steps cost one checkpoint instead of one per step plus their writes (issue 13). What a
# crash mid-run loses is only work that is safe to do again: the turn is retried from its stored message
# (reads run again; no change is made before staff approve, and approving pauses the run, which writes
# the checkpoint the resume starts from). See AgentService.recover.
DURABILITY = "exit"


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
        return await final_result(self.stream_turn(request, tokens=False))

    async def stream_turn(
        self,
        request: TurnRequest,
        *,
        refuse: Callable[[list[str]], None] | None = None,
        tokens: bool = True,
    ) -> AsyncIterator[TurnEvent]:
        """Yields token deltas (restored), tool calls as they finish, then the final TurnResult.

        `refuse` sees the approvals the conversation is paused on (from the same checkpoint read that
        tells where this turn's messages start) and may raise to refuse the turn. `tokens=False` (nobody
        reads the reply as it is written) asks the model for whole replies: one response to parse instead
        of a chunk per token through the SDK, LangChain and LangGraph."""
        text, counts = (
            (request.text, {})
            if request.redacted
            else await self.redact(request.tenant, request.conversation_id, request.text)
        )
        state = await self.graph.aget_state(_config(request.tenant, request.conversation_id))
        if refuse is not None:
            refuse(_pending(state))
        before = len(state.values.get("messages", []))
        graph_input = {"messages": self._input(request, text)}
        async for event in self._run(request, graph_input, text, counts, before=before, tokens=tokens):
            yield event

    async def resume(self, request: TurnRequest) -> TurnResult:
        """Continues a turn paused for approval, once staff have decided (`request.text` is unused)."""
        return await final_result(self._run(request, Command(resume={"decided": True}), "", {}, tokens=False))

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
            return await final_result(
                self._run(request, graph_input, request.text, {}, before=before, tokens=False)
            )
        assert at is not None
        return await final_result(
            self._run(
                request,
                None,
                request.text,
                {},
                before=at + 1,
                run=bool(state.next),
                state=state,
                tokens=False,
            )
        )

    async def pending_approvals(self, tenant: str, conversation_id: str) -> list[str]:
        """Approval ids the conversation's graph is paused on (empty when it is not paused)."""
        return _pending(await self.graph.aget_state(_config(tenant, conversation_id)))

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
        state: Any = None,
        tokens: bool = True,
    ) -> AsyncIterator[TurnEvent]:
        """Streams one graph run; `before` is where this turn's messages start (default: the end now).

        The state the reply is read from is the run's last `values` event (an interrupt shows in its
        `updates`), so no checkpoint is read back after the run; `state` is used when nothing runs."""
        ctx = self._context(request)
        config = _config(request.tenant, request.conversation_id)
        if before is None:
            before = len((await self.graph.aget_state(config)).values.get("messages", []))
        restore = self._restorer(request)
        stream = PlaceholderStream(restore)
        streaming: tuple[Any, Any] = (None, None)  # (graph step, model call) whose tokens went out
        reported = 0
        graph: Any = self.graph  # astream's overloads do not cover a list of stream modes with a context
        values: dict[str, Any] | None = None
        paused = False
        updates = graph.astream(
            graph_input,
            config,
            context=ctx,
            stream_mode=["messages", "updates", "values"] if tokens else ["updates", "values"],
            durability=DURABILITY,
        )
        async for mode, payload in updates if run else _nothing():
            if mode == "values":
                values = payload
            elif mode == "updates":
                paused = paused or "__interrupt__" in payload
            elif mode == "messages":
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
        if values is None:  # nothing ran: the reply is in the checkpoint
            state = state or await self.graph.aget_state(config)
            values, paused = state.values, "await_approval" in (state.next or ())
        result = self._result(request, values, before, paused, user_text, counts, ctx, restore)
        yield TurnEvent("final", result)

    def _restorer(self, request: TurnRequest) -> Any:
        redactor: Any = self.services.redactor
        if redactor is None:
            return lambda text: text
        return TurnRestorer(redactor, request.tenant, request.conversation_id)

    def _result(
        self,
        request: TurnRequest,
        values: dict[str, Any],
        before: int,
        paused: bool,
        user_text: str,
        counts: dict[str, int],
        ctx: TurnContext,
        restore: Any,
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
            reply=restore(reply_redacted),
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


class TurnRestorer:
    """Placeholders back to real values for one turn's reply. Each placeholder is looked up in the vault
    once per turn, not again for every streamed delta that holds it and once more for the whole reply:
    those lookups are database reads on the event loop. Scoped to one tenant's conversation and one turn,
    so nothing is shared across tenants."""

    def __init__(self, redactor: Any, tenant: str, conversation_id: str) -> None:
        self._redactor = redactor
        self._scope = {"tenant": tenant, "conversation_id": conversation_id}
        self._known: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        found = {match.group(0) for match in PLACEHOLDER.finditer(text)}
        if not found:
            return text
        for placeholder in found - self._known.keys():
            self._known[placeholder] = self._redactor.restore(placeholder, **self._scope)
        return PLACEHOLDER.sub(lambda match: self._known[match.group(0)], text)


async def _nothing() -> AsyncIterator[tuple[str, Any]]:
    return
    yield


def _pending(state: Any) -> list[str]:
    """Approval ids a checkpoint is paused on (empty when it is not paused)."""
    if "await_approval" not in (state.next or ()):
        return []
    return [p["approval_id"] for p in state.values.get("pending") or []]


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
