"""The conversation service: what every channel calls (REST, SSE, CLI, Slack, helpdesk webhooks, sidebar).

A channel only translates its protocol into these calls:
- open or find a conversation (`create`, `open` by external reference, `get`);
- send a customer message (`send` / `stream`), ask for a staff draft (`draft` / `stream_draft`);
- record a staff reply or an internal note (`add_staff_message`), feedback (`record_feedback`);
- retry a failed turn (`retry_turn`); hand a conversation back (`handback`).
Approvals are decided through api.approvals, which resumes the paused turn through `resume_after_decision`.

One customer turn, top-down: check -> redact -> store message + running turn -> run the graph detached
(api.turns) -> store the reply with its usage and audit events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from agent.images import ImageRef
from agent.service import AgentService
from agent.turns import ContextMessage, TurnEvent, TurnRequest, TurnResult, final_result
from api import fail_soft_kb
from api.approvals import ApprovalService
from api.audit import AuditLog
from api.errors import ApiError, ConflictError, NotFoundError
from api.metrics import Metrics
from api.models import Approval, Conversation, Feedback, Message, Turn, UsageRecord, utcnow
from api.tenants import TenantSettingsService
from api.turns import TurnRunner, shielded

StaffKind = Literal["staff", "note"]


class ConversationService:
    def __init__(
        self,
        *,
        engine: Engine,
        agent: AgentService,
        approvals: ApprovalService,
        tenants: TenantSettingsService,
        audit: AuditLog,
        turns: TurnRunner,
        redactor: Any = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.audit = audit
        self.agent = agent
        self.approvals = approvals
        self.tenants = tenants
        self.turns = turns
        self.redactor = redactor
        approvals.on_decided(self.resume_after_decision)

    # --- open or find -----------------------------------------------------------------------------------

    def create(
        self,
        *,
        tenant: str,
        customer_id: str | None,
        channel: str,
        actor: str | None,
        external_id: str | None = None,
    ) -> Conversation:
        if customer_id is not None:
            self._require_customer(tenant, customer_id)
        conversation = Conversation(
            tenant=tenant, customer_id=customer_id, channel=channel, external_id=external_id, created_by=actor
        )
        with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
            session.add(conversation)
            session.flush()  # a clashing external reference fails here, before the audit event
            self.audit.append(
                session,
                tenant=tenant,
                type="conversation.created",
                actor=actor,
                conversation_id=conversation.id,
                payload={"channel": channel, "customer_id": customer_id, "external_id": external_id},
            )
            session.commit()
        return conversation

    def open(
        self,
        *,
        tenant: str,
        channel: str,
        external_id: str,
        customer_id: str | None = None,
        actor: str | None = None,
    ) -> tuple[Conversation, bool]:
        """The conversation of a Slack thread or a ticket, made on first sight; (conversation, created).

        The UNIQUE (tenant, channel, external_id) constraint decides between concurrent deliveries: the
        loser's insert fails and it reads the winner's conversation.
        """
        if (found := self.find(tenant=tenant, channel=channel, external_id=external_id)) is not None:
            return found, False
        try:
            return (
                self.create(
                    tenant=tenant,
                    customer_id=customer_id,
                    channel=channel,
                    actor=actor,
                    external_id=external_id,
                ),
                True,
            )
        except IntegrityError:
            found = self.find(tenant=tenant, channel=channel, external_id=external_id)
            if found is None:
                raise
            return found, False

    def find(self, *, tenant: str, channel: str, external_id: str) -> Conversation | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(
                select(Conversation).where(
                    Conversation.tenant == tenant,
                    Conversation.channel == channel,
                    Conversation.external_id == external_id,
                )
            ).first()

    def get(self, *, tenant: str, conversation_id: str) -> Conversation:
        with Session(self.engine, expire_on_commit=False) as session:
            conversation = session.get(Conversation, conversation_id)
        # Another tenant's conversation is indistinguishable from a missing one.
        if conversation is None or conversation.tenant != tenant:
            raise NotFoundError(f"conversation {conversation_id} not found")
        return conversation

    def bind_customer(
        self, *, tenant: str, conversation_id: str, customer_id: str, actor: str | None
    ) -> None:
        """Ties the conversation to its customer once known (a Slack thread names them later); the tools
        check ownership against it from then on. A conversation is never re-bound to someone else."""
        conversation = self.get(tenant=tenant, conversation_id=conversation_id)
        self.resolve_customer(conversation, customer_id)
        if conversation.customer_id == customer_id:
            return
        with self.audit.lock, Session(self.engine) as session:
            row = session.get(Conversation, conversation_id)
            assert row is not None
            row.customer_id, row.updated_at = customer_id, utcnow()
            session.add(row)
            self.audit.append(
                session,
                tenant=tenant,
                type="conversation.customer_bound",
                actor=actor,
                conversation_id=conversation_id,
                payload={"customer_id": customer_id},
            )
            session.commit()

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

    # --- a customer message: one turn -------------------------------------------------------------------

    async def check_can_send(self, *, tenant: str, conversation_id: str, customer_id: str | None) -> None:
        """The checks a turn makes first, for callers that must answer errors before streaming starts."""
        self.resolve_customer(self.get(tenant=tenant, conversation_id=conversation_id), customer_id)
        await self._refuse_while_waiting(tenant, conversation_id)

    async def send(self, **turn: Any) -> TurnResult:
        return await final_result(self.stream(**turn, tokens=False))

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
        as_draft: bool = False,
        tokens: bool = True,
    ) -> AsyncIterator[TurnEvent]:
        """`as_draft`: the reply goes to staff, not the customer (a helpdesk note), so it is stored as a
        draft; tools follow the usual rules (reads run, money-moving tools wait for approval).
        `tokens=False`: no token events (the model is asked for whole replies)."""
        conversation = self.get(tenant=tenant, conversation_id=conversation_id)
        customer = self.resolve_customer(conversation, customer_id)
        await self._refuse_while_waiting(tenant, conversation_id)
        redacted, counts = await self.redact(tenant, conversation_id, text)
        turn, _, context = await run_in_threadpool(
            lambda: self.turns.receive(
                conversation=conversation,
                kind="reply",
                channel=channel,
                actor=actor,
                text=redacted,
                audit_payload={
                    "content": redacted,
                    "redactions": counts,
                    "draft_only": conversation.status == "needs_human",
                    "images": [image.audit_record() for image in images],
                },
            )
        )
        request = self._request(conversation, turn, customer, redacted, context, images=images)
        async for event in self._run(
            turn, request, counts, draft=request.draft_only or as_draft, tokens=tokens
        ):
            yield event

    # --- a staff draft ----------------------------------------------------------------------------------

    async def draft(self, **turn: Any) -> TurnResult:
        return await final_result(self.stream_draft(**turn, tokens=False))

    async def stream_draft(
        self,
        *,
        tenant: str,
        conversation_id: str,
        actor: str | None,
        channel: str = "api",
        tokens: bool = True,
    ) -> AsyncIterator[TurnEvent]:
        """A suggested reply to the customer's latest message, for staff to review: nothing acts."""
        conversation = self.get(tenant=tenant, conversation_id=conversation_id)
        await self._refuse_while_waiting(tenant, conversation_id)
        turn, _, context = await run_in_threadpool(
            lambda: self.turns.receive(
                conversation=conversation,
                kind="draft",
                channel=channel,
                actor=actor,
                text="",
                audit_payload={},
            )
        )
        request = self._request(conversation, turn, conversation.customer_id, "", context, draft=True)
        async for event in self._run(turn, request, {}, draft=True, tokens=tokens):
            yield event

    # --- staff replies and internal notes ---------------------------------------------------------------

    async def add_staff_message(
        self,
        *,
        tenant: str,
        conversation_id: str,
        text: str,
        kind: StaffKind,
        author: str | None,
        channel: str = "api",
    ) -> Message:
        """A reply a human sent the customer, or an internal note: stored redacted, and part of the
        model's context from the next turn on, marked so it is never taken for the customer's words."""
        self.get(tenant=tenant, conversation_id=conversation_id)
        redacted, counts = await self.redact(tenant, conversation_id, text)

        def store() -> Message:
            with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
                message = Message(
                    conversation_id=conversation_id, tenant=tenant, role=kind, author=author, content=redacted
                )
                session.add(message)
                session.flush()
                self.audit.append(
                    session,
                    tenant=tenant,
                    type="message.staff" if kind == "staff" else "message.note",
                    actor=author,
                    conversation_id=conversation_id,
                    payload={
                        "message_id": message.id,
                        "channel": channel,
                        "content": redacted,
                        "redactions": counts,
                    },
                )
                session.commit()
                return message

        return await run_in_threadpool(store)

    # --- feedback ---------------------------------------------------------------------------------------

    async def record_feedback(
        self,
        *,
        tenant: str,
        conversation_id: str,
        message_id: int | None,
        rating: Literal["up", "down"],
        reason: str | None,
        actor: str | None,
        channel: str = "api",
    ) -> Feedback:
        """A thumbs up or down on an assistant message (the latest one when `message_id` is None)."""
        self.get(tenant=tenant, conversation_id=conversation_id)
        redacted = (await self.redact(tenant, conversation_id, reason))[0] if reason else None

        def store() -> Feedback:
            with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
                query = select(Message).where(
                    Message.conversation_id == conversation_id,
                    Message.tenant == tenant,
                    Message.role == "assistant",
                )
                if message_id is not None:
                    query = query.where(Message.id == message_id)
                target = session.exec(query.order_by(col(Message.id).desc())).first()
                if target is None:
                    raise NotFoundError("no assistant message to give feedback on")
                feedback = Feedback(
                    tenant=tenant,
                    conversation_id=conversation_id,
                    message_id=target.id,
                    rating=rating,
                    reason=redacted,
                    actor=actor,
                    channel=channel,
                )
                session.add(feedback)
                session.flush()
                self.audit.append(
                    session,
                    tenant=tenant,
                    type="feedback.recorded",
                    actor=actor,
                    conversation_id=conversation_id,
                    payload={
                        "message_id": target.id,
                        "rating": rating,
                        "reason": redacted,
                        "channel": channel,
                    },
                )
                session.commit()
                return feedback

        return await run_in_threadpool(store)

    # --- approvals resume the paused turn; failed turns are retried -------------------------------------

    async def resume_after_decision(self, approval: Approval, actor: str) -> TurnResult | None:
        """Continues the paused turn once every approval it waits on is decided; None if nothing to do.
        Runs to the end even when the deciding client disconnects."""
        return await shielded(self._resume(approval, actor))

    async def _resume(self, approval: Approval, actor: str) -> TurnResult | None:
        conversation = self.get(tenant=approval.tenant, conversation_id=approval.conversation_id)
        async with self.turns.lock(conversation.id):
            waiting = await self.agent.pending_approvals(conversation.tenant, conversation.id)
            if approval.id not in waiting:
                return None  # already resumed (a repeated or concurrent decision)
            if any(self.approvals.decision(a)[0] == "pending" for a in waiting):
                return None
            turn, _, _ = await run_in_threadpool(
                lambda: self.turns.receive(
                    conversation=conversation,
                    kind="resume",
                    channel="approval",
                    actor=actor,
                    text="",
                    audit_payload={"approvals": waiting},
                )
            )
            request = self._request(conversation, turn, conversation.customer_id, "", [], actor=actor)
            events = lambda: _as_events(self.agent.resume(request))  # noqa: E731
            return await final_result(self._run(turn, request, {}, draft=False, events=events, locked=True))

    async def retry_turn(
        self, *, tenant: str, conversation_id: str, turn_id: str, actor: str | None
    ) -> TurnResult:
        """Runs a failed turn again from the graph's checkpoint: approved changes are not redone."""
        conversation = self.get(tenant=tenant, conversation_id=conversation_id)
        turn = self.turns.get(tenant, turn_id)
        if turn is None or turn.conversation_id != conversation_id:
            raise NotFoundError(f"turn {turn_id} not found")
        turn = await run_in_threadpool(self.turns.restart, turn)
        inputs = await run_in_threadpool(self.turns.messages, turn.input_message_ids)
        customer_text = next((m.content for m in inputs if m.role == "customer"), "")
        context = [m for m in inputs if m.role in ("staff", "note")]
        request = self._request(
            conversation, turn, conversation.customer_id, customer_text, context, draft=turn.kind == "draft"
        )
        return await final_result(
            self._run(
                turn,
                request,
                {},
                draft=request.draft_only,
                events=lambda: _as_events(self.agent.recover(request)),
            )
        )

    # --- status -----------------------------------------------------------------------------------------

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
        with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None or conversation.tenant != tenant:
                raise NotFoundError(f"conversation {conversation_id} not found")
            conversation.status, conversation.handoff_reason = status, reason
            conversation.updated_at = utcnow()
            session.add(conversation)
            self.audit.append(
                session,
                tenant=tenant,
                type=f"conversation.{status}",
                actor=actor,
                conversation_id=conversation_id,
                payload={"reason": reason},
            )
            session.commit()
        return conversation

    # --- internals --------------------------------------------------------------------------------------

    def _staff(self, tenant: str) -> list[str]:
        """The tenant's staff names, which redaction spares (settings, kept a few seconds per process)."""
        return self.tenants.get(tenant).staff_names

    def record_usage(self, tenant: str, conversation_id: str | None, usage: dict[str, Any]) -> None:
        """Model calls made outside a turn (a staff rewrite or summary): billed, so counted in /v1/usage
        and in the tenant's daily quota like a turn's."""
        if not usage.get("calls"):
            return
        with Session(self.engine) as session:
            session.add_all(UsageRecord.for_calls(tenant, conversation_id, usage))
            session.commit()

    async def redact(self, tenant: str, conversation_id: str, text: str) -> tuple[str, dict[str, int]]:
        """What every channel redacts with before it stores or queues text: the agent's redaction with
        the tenant's staff names spared, so a webhook or a Slack event treats them as the API does."""
        return await self.agent.redact(tenant, conversation_id, text, allow_list=self._staff(tenant))

    def _request(
        self,
        conversation: Conversation,
        turn: Turn,
        customer_id: str | None,
        text: str,
        context: list[Message],
        *,
        draft: bool = False,
        images: tuple[ImageRef, ...] = (),
        actor: str | None = None,
    ) -> TurnRequest:
        settings = self.tenants.get(conversation.tenant)
        return TurnRequest(
            tenant=conversation.tenant,
            conversation_id=conversation.id,
            text=text,
            redacted=True,
            customer_id=customer_id,
            actor=actor or turn.actor,
            channel=turn.channel,
            draft_only=draft or conversation.status == "needs_human",
            images=images,
            message_id=f"msg_{turn.id}",
            context=tuple(ContextMessage(role=m.role, text=m.content, author=m.author) for m in context),  # type: ignore[arg-type]
            policy=settings.policy(),
            shop_summary=settings.summary(),
        )

    def _run(
        self,
        turn: Turn,
        request: TurnRequest,
        counts: dict[str, int],
        *,
        draft: bool,
        events: Any = None,
        locked: bool = False,
        tokens: bool = True,
    ) -> AsyncIterator[TurnEvent]:
        """The turn detached from the caller (api.turns), refused under the lock if an approval started
        waiting meanwhile, and stored when it ends."""
        kb_failures = fail_soft_kb.track()  # the knowledge base failing during this turn marks it degraded

        def store(result: TurnResult) -> None:
            fail_soft_kb.mark_degraded(result, kb_failures)
            for entity, count in counts.items():
                result.redactions[entity] = result.redactions.get(entity, 0) + count
            reply = self.turns.finish(turn, result, customer_id=request.customer_id, draft=draft)
            result.turn_id, result.message_id, result.draft = turn.id, reply.id, draft

        async def guard() -> None:
            await self._refuse_while_waiting(request.tenant, request.conversation_id)

        if events is None:
            # A new turn checks for a pending approval on the checkpoint it reads anyway (one read).
            return self.turns.run(
                turn,
                lambda: self.agent.stream_turn(
                    request, refuse=None if locked else _refuse_pending, tokens=tokens
                ),
                store=store,
                locked=locked,
            )
        return self.turns.run(turn, events, store=store, guard=None if locked else guard, locked=locked)

    async def _refuse_while_waiting(self, tenant: str, conversation_id: str) -> None:
        _refuse_pending(await self.agent.pending_approvals(tenant, conversation_id))

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
        if self.agent.services.backend.get_customer(tenant, customer_id) is None:
            raise NotFoundError(f"customer {customer_id} not found")


def _refuse_pending(waiting: list[str]) -> None:
    if waiting:
        raise ConflictError(
            "this conversation is waiting for a staff member to review a request; "
            "send new messages once it has been decided",
            pending_approvals=waiting,
        )


async def _as_events(result: Any) -> AsyncIterator[TurnEvent]:
    yield TurnEvent("final", await result)
