"""Conversations as the API sees them: ownership, status (active / needs_human) and stored history."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from agent.images import ImageRef
from agent.service import AgentService
from agent.turns import TurnEvent, TurnRequest, TurnResult, final_result
from api.approvals import ApprovalService
from api.audit import AuditLog
from api.errors import ApiError, ConflictError, NotFoundError
from api.metrics import Metrics
from api.models import Approval, Conversation, Message, UsageRecord, utcnow


class ConversationService:
    def __init__(
        self,
        *,
        engine: Engine,
        agent: AgentService,
        approvals: ApprovalService,
        audit: AuditLog,
        redactor: Any = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.audit = audit
        self.agent = agent
        self.approvals = approvals
        self.redactor = redactor
        # One turn at a time per conversation: the graph's checkpoint is a single timeline.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def create(
        self, *, tenant: str, customer_id: str | None, channel: str, actor: str | None
    ) -> Conversation:
        if customer_id is not None:
            self._require_customer(tenant, customer_id)
        conversation = Conversation(tenant=tenant, customer_id=customer_id, channel=channel, created_by=actor)
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(conversation)
            session.commit()
        self.audit.record(
            tenant=tenant,
            type="conversation.created",
            actor=actor,
            conversation_id=conversation.id,
            payload={"channel": channel, "customer_id": customer_id},
        )
        return conversation

    def get(self, *, tenant: str, conversation_id: str) -> Conversation:
        with Session(self.engine, expire_on_commit=False) as session:
            conversation = session.get(Conversation, conversation_id)
        # Another tenant's conversation is indistinguishable from a missing one.
        if conversation is None or conversation.tenant != tenant:
            raise NotFoundError(f"conversation {conversation_id} not found")
        return conversation

    def messages(self, *, tenant: str, conversation_id: str, restore: bool) -> list[Message]:
        with Session(self.engine, expire_on_commit=False) as session:
            rows = list(
                session.exec(
                    select(Message)
                    .where(Message.conversation_id == conversation_id, Message.tenant == tenant)
                    .order_by(col(Message.id))
                )
            )
        if restore and self.redactor is not None:
            for row in rows:
                row.content = self.redactor.restore(
                    row.content, tenant=tenant, conversation_id=conversation_id
                )
        return rows

    async def send(
        self,
        *,
        tenant: str,
        conversation_id: str,
        text: str,
        customer_id: str | None,
        actor: str | None,
        channel: str = "api",
        images: tuple[ImageRef, ...] = (),
    ) -> TurnResult:
        return await final_result(
            self.stream(
                tenant=tenant,
                conversation_id=conversation_id,
                text=text,
                customer_id=customer_id,
                actor=actor,
                channel=channel,
                images=images,
            )
        )

    async def check_can_send(self, *, tenant: str, conversation_id: str, customer_id: str | None) -> None:
        """The checks a turn makes first, for callers that must answer errors before streaming starts."""
        self.resolve_customer(self.get(tenant=tenant, conversation_id=conversation_id), customer_id)
        await self._refuse_while_waiting(tenant, conversation_id)

    async def _refuse_while_waiting(self, tenant: str, conversation_id: str) -> None:
        if waiting := await self.agent.pending_approvals(tenant, conversation_id):
            raise ConflictError(
                "this conversation is waiting for a staff member to review a request; "
                "send new messages once it has been decided",
                pending_approvals=waiting,
            )

    async def stream(
        self,
        *,
        tenant: str,
        conversation_id: str,
        text: str,
        customer_id: str | None,
        actor: str | None,
        channel: str = "api",
        images: tuple[ImageRef, ...] = (),
    ) -> AsyncIterator[TurnEvent]:
        conversation = self.get(tenant=tenant, conversation_id=conversation_id)
        customer = self.resolve_customer(conversation, customer_id)
        async with self._turn_lock(conversation_id):
            conversation = self.get(tenant=tenant, conversation_id=conversation_id)
            await self._refuse_while_waiting(tenant, conversation_id)
            request = TurnRequest(
                tenant=tenant,
                conversation_id=conversation_id,
                text=text,
                customer_id=customer,
                actor=actor,
                channel=channel,
                draft_only=conversation.status == "needs_human",
                images=images,
            )
            started = time.perf_counter()
            async for event in self.agent.stream_turn(request):
                if event.kind == "final":
                    await run_in_threadpool(self._store_turn, conversation, customer, event.data)
                    self.metrics.observe_turn(
                        event.data, channel=channel, seconds=time.perf_counter() - started
                    )
                yield event

    async def resume_after_decision(
        self, *, tenant: str, approval: Approval, actor: str
    ) -> TurnResult | None:
        """Continues the paused turn once every approval it waits on is decided; None if nothing to do."""
        async with self._turn_lock(approval.conversation_id):
            waiting = await self.agent.pending_approvals(tenant, approval.conversation_id)
            if approval.id not in waiting:
                return None  # already resumed (a repeated or concurrent decision)
            undecided = [a for a in waiting if self.approvals.decision(a)[0] == "pending"]
            if undecided:
                return None
            conversation = self.get(tenant=tenant, conversation_id=approval.conversation_id)
            result = await self.agent.resume(
                TurnRequest(
                    tenant=tenant,
                    conversation_id=conversation.id,
                    text="",
                    customer_id=conversation.customer_id,
                    actor=actor,
                    channel="approval",
                )
            )
            await run_in_threadpool(self._store_turn, conversation, conversation.customer_id, result)
            self.metrics.observe_turn(result, channel="approval", seconds=0.0)
            return result

    def handback(self, *, tenant: str, conversation_id: str, actor: str) -> Conversation:
        conversation = self.get(tenant=tenant, conversation_id=conversation_id)
        if conversation.status != "needs_human":
            raise ConflictError(
                f"conversation {conversation_id} is not with a human (status {conversation.status})"
            )
        return self.set_status(
            tenant=tenant, conversation_id=conversation_id, status="active", reason=None, actor=actor
        )

    def set_status(
        self, *, tenant: str, conversation_id: str, status: str, reason: str | None, actor: str | None
    ) -> Conversation:
        with Session(self.engine, expire_on_commit=False) as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None or conversation.tenant != tenant:
                raise NotFoundError(f"conversation {conversation_id} not found")
            conversation.status, conversation.handoff_reason = status, reason
            conversation.updated_at = utcnow()
            session.add(conversation)
            session.commit()
        self.audit.record(
            tenant=tenant,
            type=f"conversation.{status}",
            actor=actor,
            conversation_id=conversation_id,
            payload={"reason": reason},
        )
        return conversation

    # --- internals ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def _turn_lock(self, conversation_id: str) -> AsyncIterator[None]:
        """One turn at a time per conversation: in this process, and on PostgreSQL across processes too
        (an advisory lock held on its own connection), since the checkpoint is a single timeline."""
        async with self._locks[conversation_id]:
            if self.engine.dialect.name != "postgresql":
                yield
                return
            key = {"key": f"deskpilot:conversation:{conversation_id}"}
            connection = await run_in_threadpool(self.engine.connect)
            try:
                await run_in_threadpool(
                    connection.execute, text("SELECT pg_advisory_lock(hashtext(:key))"), key
                )
                try:
                    yield
                finally:
                    await run_in_threadpool(
                        connection.execute, text("SELECT pg_advisory_unlock(hashtext(:key))"), key
                    )
            finally:
                await run_in_threadpool(connection.close)

    def resolve_customer(self, conversation: Conversation, customer_id: str | None) -> str | None:
        if conversation.customer_id and customer_id and customer_id != conversation.customer_id:
            raise ApiError(
                "customer_id does not match the customer of this conversation",
                conversation_customer=conversation.customer_id,
            )
        if conversation.customer_id is None and customer_id is not None:
            self._require_customer(conversation.tenant, customer_id)
        return conversation.customer_id or customer_id

    def _require_customer(self, tenant: str, customer_id: str) -> None:
        if self.agent.backend.get_customer(tenant, customer_id) is None:
            raise NotFoundError(f"customer {customer_id} not found")

    def _store_turn(self, conversation: Conversation, customer_id: str | None, result: TurnResult) -> None:
        with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Conversation, conversation.id)
            assert row is not None
            if row.customer_id is None and customer_id is not None:
                row.customer_id = customer_id
            handed_off = bool(result.handoff) and row.status != "needs_human"
            if handed_off:
                row.status, row.handoff_reason = (
                    "needs_human",
                    str((result.handoff or {}).get("reason_category")),
                )
            row.updated_at = utcnow()
            session.add(row)
            if result.user_text_redacted:
                session.add(
                    Message(
                        conversation_id=row.id,
                        tenant=row.tenant,
                        role="user",
                        content=result.user_text_redacted,
                    )
                )
            session.add(
                Message(
                    conversation_id=row.id,
                    tenant=row.tenant,
                    role="assistant",
                    content=result.reply_redacted,
                    meta={
                        "model": result.model,
                        "degraded": result.degraded,
                        "citations": result.citations,
                        "tool_calls": [{"name": c["name"], "status": c["status"]} for c in result.tool_calls],
                        "usage": result.usage,
                        "pending_approval": result.pending_approval,
                    },
                )
            )
            for call in result.usage.get("calls", []):
                session.add(
                    UsageRecord(
                        tenant=row.tenant,
                        conversation_id=row.id,
                        model=call["model"],
                        input_tokens=call["input_tokens"],
                        cached_tokens=call["cached_tokens"],
                        output_tokens=call["output_tokens"],
                        cost_usd=call["cost_usd"],
                        latency_ms=call["latency_ms"],
                    )
                )
            if handed_off:
                handoff = result.handoff or {}
                self.audit.append(
                    session,
                    tenant=row.tenant,
                    type="conversation.needs_human",
                    actor=None,
                    conversation_id=row.id,
                    payload={"reason_category": row.handoff_reason, "ticket_id": handoff.get("ticket_id")},
                )
            session.commit()
