"""Staff approval of sensitive tool calls, owned here from proposal to execution and resume.

1. **Propose** (graph, tool node): the tool's policy runs in code; a refusal never reaches staff. A call
   that passes becomes a pending approval with an expiry from the tenant's settings.
2. **Pause** (graph, await_approval node): `settle` interrupts the graph first, so when the graph resumes
   nothing before the interrupt re-runs.
3. **Decide** (route, Slack button, sidebar): a compare-and-set on `status = 'pending'`, so of two
   simultaneous approvers one wins; a repeat of the same decision is harmless. Expiry is the same
   compare-and-set, made by the maintenance sweep.
4. **Execute** (graph, on resume): the store change, the approval's new status and the audit event commit
   in one transaction; the approval id is the tool's idempotency key, so a replay after a crash finds the
   change already made. The store's UNIQUE idempotency key is the last line of defence.
5. **Resume**: once every approval a turn waits on is decided, the paused turn continues and the
   customer is told (the conversation service runs it, under the conversation's turn lock).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any, Literal

from langgraph.types import interrupt
from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from agent.context import TurnContext
from agent.tool_results import redact_result
from agent.turns import ToolEvent, TurnResult
from api.audit import AuditLog
from api.errors import ConflictError, NotFoundError
from api.models import Approval, utcnow
from api.tenants import TenantSettingsService
from tools import check_tool, run_tool
from tools.backends.base import StoreBackend
from tools.errors import ToolError

Decision = Literal["approve", "reject"]
DECIDED = {"approve": "approved", "reject": "rejected"}
ResumeTurn = Callable[[Approval, str], Awaitable[TurnResult | None]]


class ApprovalService:
    def __init__(
        self,
        *,
        engine: Engine,
        audit: AuditLog,
        backend: StoreBackend,
        tenants: TenantSettingsService,
        redactor: Any = None,
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.backend = backend
        self.tenants = tenants
        self.redactor = redactor
        self._lock = threading.Lock()
        self._resume: ResumeTurn | None = None

    def on_decided(self, resume: ResumeTurn) -> None:
        """The conversation service resumes paused turns; it registers itself here at start-up."""
        self._resume = resume

    # --- 1. propose (the graph's tool node) ------------------------------------------------------------

    async def propose(
        self, ctx: TurnContext, *, tool_call_id: str, tool: str, args: dict[str, Any]
    ) -> ToolEvent:
        try:
            checks = await run_in_threadpool(check_tool, tool, ctx.restore(args), ctx.tool_context())
        except ToolError as error:
            return ToolEvent(tool, args, "error", error.as_result(), tool_call_id)
        approval_id = await run_in_threadpool(
            partial(
                self._create,
                tenant=ctx.tenant,
                conversation_id=ctx.conversation_id,
                customer_id=ctx.customer_id,
                actor=ctx.actor,
                tool_call_id=tool_call_id,
                tool=tool,
                args=args,
                checks=checks,
            )
        )
        return ToolEvent(
            tool, args, "pending_approval", {"approval_id": approval_id, "checks": checks}, tool_call_id
        )

    def _create(
        self,
        *,
        tenant: str,
        conversation_id: str,
        customer_id: str | None,
        actor: str | None,
        tool_call_id: str,
        tool: str,
        args: dict[str, Any],
        checks: list[str],
    ) -> str:
        """Creates the pending approval, or returns the one already made for this tool call, or the one
        still pending in this conversation for the same action: a turn retried after a crash asks the
        model again, which proposes the same action under a new tool call id, and staff must not be
        asked (and able) to approve it twice."""
        with Session(self.engine, expire_on_commit=False) as session:
            existing = session.exec(
                select(Approval).where(
                    Approval.conversation_id == conversation_id, Approval.tool_call_id == tool_call_id
                )
            ).first()
            if existing is not None:
                return existing.id
            pending = session.exec(
                select(Approval).where(
                    Approval.conversation_id == conversation_id,
                    Approval.tool == tool,
                    Approval.status == "pending",
                )
            ).all()
            for same in pending:
                if same.args == args:
                    return same.id
            hours = self.tenants.get(tenant).approval_expiry_hours
            approval = Approval(
                tenant=tenant,
                conversation_id=conversation_id,
                customer_id=customer_id,
                tool_call_id=tool_call_id,
                tool=tool,
                args=args,
                checks=checks,
                requested_by=actor,
                expires_at=utcnow() + timedelta(hours=hours),
            )
            session.add(approval)
            session.commit()
            return approval.id

    # --- 2. pause, then execute (the graph's await_approval node) ----------------------------------------

    async def settle(
        self, ctx: TurnContext, pending: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], Any, str]]:
        """Interrupts first; after the resume, reads each decision from its record and acts on it."""
        interrupt({"approvals": [p["approval_id"] for p in pending]})
        outcomes: list[tuple[dict[str, Any], Any, str]] = []
        for item in pending:
            approval_id = item["approval_id"]
            status, note = await run_in_threadpool(self.decision, approval_id)
            if status == "rejected":
                message = "A staff member declined this request." + (f" Their note: {note}" if note else "")
                outcomes.append(
                    (
                        item,
                        {"error": "rejected_by_staff", "approval_id": approval_id, "message": message},
                        "error",
                    )
                )
                continue
            if status == "expired":
                message = (
                    "No staff member reviewed this request in time, so it expired and nothing was changed."
                )
                outcomes.append(
                    (
                        item,
                        {"error": "approval_expired", "approval_id": approval_id, "message": message},
                        "error",
                    )
                )
                continue
            base = ctx.tool_context(idempotency_key=approval_id)
            trusted_args = ctx.restore(item["args"])

            def run(
                backend: StoreBackend,
                name: str = item["name"],
                args: Any = trusted_args,
                tool_ctx: Any = base,
            ) -> dict[str, Any]:
                return run_tool(name, args, replace(tool_ctx, backend=backend))

            try:
                result = await run_in_threadpool(self.execute, approval_id, run)
                outcomes.append((item, result, "error" if "error" in result else "ok"))
            except ToolError as error:
                outcomes.append((item, error.as_result(), "error"))
        return outcomes

    def decision(self, approval_id: str) -> tuple[str, str | None]:
        with Session(self.engine) as session:
            approval = session.get(Approval, approval_id)
            if approval is None:
                raise ToolError("The approval record for this request is missing.")
            return approval.status, approval.decision_note

    def execute(self, approval_id: str, run: Callable[[StoreBackend], dict[str, Any]]) -> dict[str, Any]:
        """Runs `run` against the store inside the approval's transaction; a second run only replays.

        `run` is idempotent on the approval id, so after a crash between the commit and the reply the
        resumed graph calls it again and gets the stored change back, with nothing written twice.
        """
        with self._lock, self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
            query = select(Approval).where(Approval.id == approval_id)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            approval = session.exec(query).one()
            if approval.status == "failed" and approval.result is not None:
                return dict(approval.result)
            if approval.status not in ("approved", "executed"):
                raise ToolError("This request has not been approved by a staff member.")
            replay = approval.status == "executed"
            try:
                result = run(self.backend.unit_of_work(session))
            except ToolError as error:
                if replay:
                    raise
                session.rollback()  # policy changed since the approval: nothing was written
                approval = session.exec(select(Approval).where(Approval.id == approval_id)).one()
                result = error.as_result()
                approval.status, approval.result = "failed", result  # policy messages hold no PII
            else:
                if replay:
                    session.commit()
                    return result
                approval.status = "executed"
            approval.executed_at = utcnow()
            session.add(approval)
            self.audit.append(
                session,
                tenant=approval.tenant,
                type=f"approval.{approval.status}",
                actor=approval.decided_by,
                conversation_id=approval.conversation_id,
                payload={"approval_id": approval.id, "tool": approval.tool, "error": result.get("error")},
            )
            session.commit()
        if approval.status == "executed":
            self._keep_result(approval, result)
        return result

    def _keep_result(self, approval: Approval, result: dict[str, Any]) -> None:
        """Stores the redacted result for staff views, after the commit: placeholders for new values are
        vault writes, which must not wait on the transaction that holds the store's lock."""
        redacted = self._redact(approval, result)
        with Session(self.engine) as session:
            row = session.get(Approval, approval.id)
            if row is not None:
                row.result = redacted
                session.add(row)
                session.commit()

    # --- 3. decide (staff, from any channel), then 5. resume ---------------------------------------------

    async def decide_and_resume(
        self, *, tenant: str, approval_id: str, decision: Decision, note: str | None, actor: str
    ) -> tuple[Approval, TurnResult | None, bool]:
        """Records the decision and continues the paused turn; returns (approval, reply, first decision)."""
        approval, first = await run_in_threadpool(
            partial(
                self.decide, tenant=tenant, approval_id=approval_id, decision=decision, note=note, actor=actor
            )
        )
        reply = await self._resume(approval, actor) if self._resume is not None else None
        return self.get(tenant=tenant, approval_id=approval_id), reply, first

    def decide(
        self, *, tenant: str, approval_id: str, decision: Decision, note: str | None, actor: str
    ) -> tuple[Approval, bool]:
        """Records the decision; returns (approval, first) where `first` is False for a repeat of it."""
        approval = self.get(tenant=tenant, approval_id=approval_id)
        target = DECIDED[decision]
        stored_note = self._redact_text(approval, note) if note else None
        now = utcnow()
        with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
            changed = session.execute(
                update(Approval)
                .where(
                    col(Approval.id) == approval_id,
                    col(Approval.status) == "pending",
                    or_(col(Approval.expires_at).is_(None), col(Approval.expires_at) > now),
                )
                .values(status=target, decided_by=actor, decision_note=stored_note, decided_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if changed:
                self.audit.append(
                    session,
                    tenant=tenant,
                    type=f"approval.{target}",
                    actor=actor,
                    conversation_id=approval.conversation_id,
                    payload={"approval_id": approval_id, "tool": approval.tool, "note": stored_note},
                )
            session.commit()
        if not changed and self.get(tenant=tenant, approval_id=approval_id).status == "pending":
            self._expire([approval_id], now)  # past its expiry, not swept yet
        approval = self.get(tenant=tenant, approval_id=approval_id)
        if not changed:
            same = approval.status == target or (
                target == "approved" and approval.status in ("executed", "failed")
            )
            if not same:
                raise ConflictError(
                    f"approval {approval_id} was already {approval.status}",
                    status=approval.status,
                    decided_by=approval.decided_by,
                )
        return approval, bool(changed)

    # --- expiry (the maintenance sweep) -----------------------------------------------------------------

    async def expire_due(self) -> list[Approval]:
        """Expires every pending approval past its time, once, and resumes the turns that waited on them,
        so the customer is told. Safe to run from every process at once: expiry is a compare-and-set."""
        now = utcnow()
        with Session(self.engine) as session:
            due = list(
                session.exec(
                    select(Approval.id).where(
                        Approval.status == "pending",
                        col(Approval.expires_at).is_not(None),
                        col(Approval.expires_at) <= now,
                    )
                )
            )
        expired = await run_in_threadpool(self._expire, due, now)
        for approval in expired:
            if self._resume is not None:
                await self._resume(approval, "system:expiry")
        return expired

    def _expire(self, approval_ids: list[str], now: Any) -> list[Approval]:
        expired = []
        for approval_id in approval_ids:
            with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
                changed = session.execute(
                    update(Approval)
                    .where(col(Approval.id) == approval_id, col(Approval.status) == "pending")
                    .values(status="expired", decided_by="system:expiry", decided_at=now)
                ).rowcount  # type: ignore[attr-defined]
                if not changed:
                    continue
                approval = session.get(Approval, approval_id)
                assert approval is not None
                self.audit.append(
                    session,
                    tenant=approval.tenant,
                    type="approval.expired",
                    actor="system:expiry",
                    conversation_id=approval.conversation_id,
                    payload={"approval_id": approval_id, "tool": approval.tool},
                )
                session.commit()
                expired.append(approval)
        return expired

    # --- reading ------------------------------------------------------------------------------------------

    def get(self, *, tenant: str, approval_id: str) -> Approval:
        with Session(self.engine, expire_on_commit=False) as session:
            approval = session.get(Approval, approval_id)
        if approval is None or approval.tenant != tenant:
            raise NotFoundError(f"approval {approval_id} not found")
        return approval

    def list(
        self, *, tenant: str, status: str | None, limit: int, conversation_id: str | None = None
    ) -> list[Approval]:
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(Approval).where(Approval.tenant == tenant)
            if status:
                query = query.where(Approval.status == status)
            if conversation_id:
                query = query.where(Approval.conversation_id == conversation_id)
            return list(session.exec(query.order_by(col(Approval.created_at)).limit(limit)))

    def restored(self, approval: Approval, value: Any) -> Any:
        """Records hold placeholders; staff see the real values."""
        if self.redactor is None:
            return value
        return self.redactor.restore_value(
            value, tenant=approval.tenant, conversation_id=approval.conversation_id
        )

    def _redact(self, approval: Approval, value: Any) -> Any:
        if self.redactor is None:
            return value
        redacted, _ = redact_result(
            self.redactor, value, tenant=approval.tenant, conversation_id=approval.conversation_id
        )
        return redacted

    def _redact_text(self, approval: Approval, text: str) -> str:
        if self.redactor is None:
            return text
        return str(
            self.redactor.redact(text, tenant=approval.tenant, conversation_id=approval.conversation_id).text
        )
