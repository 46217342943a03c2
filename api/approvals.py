"""Staff approval of sensitive tool calls, executed exactly once.

The approval id is the tool's idempotency key. Deciding is a compare-and-set on `status = 'pending'`,
so of two simultaneous approvers one wins. Executing writes the store change, the approval's new status
and the audit event in one transaction, and a replay after a crash finds the approval already executed.
The store's UNIQUE idempotency key is the last line of defence.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from agent.tool_results import redact_result
from api.audit import AuditLog
from api.errors import ConflictError, NotFoundError
from api.models import Approval, utcnow
from tools.backends.sql import SqlStoreBackend
from tools.errors import ToolError

Decision = Literal["approve", "reject"]
DECIDED = {"approve": "approved", "reject": "rejected"}


class ApprovalService:
    def __init__(
        self, *, engine: Engine, audit: AuditLog, backend: SqlStoreBackend, redactor: Any = None
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.backend = backend
        self.redactor = redactor
        self._lock = threading.Lock()

    # --- the desk the graph uses ------------------------------------------------------------------

    def request(
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
        """Creates the pending approval, or returns the one already made for this tool call."""
        with Session(self.engine, expire_on_commit=False) as session:
            existing = session.exec(
                select(Approval).where(
                    Approval.conversation_id == conversation_id, Approval.tool_call_id == tool_call_id
                )
            ).first()
            if existing is not None:
                return existing.id
            approval = Approval(
                tenant=tenant,
                conversation_id=conversation_id,
                customer_id=customer_id,
                tool_call_id=tool_call_id,
                tool=tool,
                args=args,
                checks=checks,
                requested_by=actor,
            )
            session.add(approval)
            session.commit()
            return approval.id

    def decision(self, approval_id: str) -> tuple[str, str | None]:
        with Session(self.engine) as session:
            approval = session.get(Approval, approval_id)
            if approval is None:
                raise ToolError("The approval record for this request is missing.")
            return approval.status, approval.decision_note

    def execute(self, approval_id: str, run: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
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
                result = run(self.backend.in_transaction(session))
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

    # --- what staff do ------------------------------------------------------------------------------

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

    def decide(
        self, *, tenant: str, approval_id: str, decision: Decision, note: str | None, actor: str
    ) -> tuple[Approval, bool]:
        """Records the decision; returns (approval, first) where `first` is False for a repeat of it."""
        approval = self.get(tenant=tenant, approval_id=approval_id)
        target = DECIDED[decision]
        stored_note = self._redact_text(approval, note) if note else None
        with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
            changed = session.execute(
                update(Approval)
                .where(col(Approval.id) == approval_id, col(Approval.status) == "pending")
                .values(status=target, decided_by=actor, decision_note=stored_note, decided_at=utcnow())
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

    # --- PII: records hold placeholders, staff see real values -----------------------------------------

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

    def _restore(self, approval: Approval, value: Any) -> Any:
        if self.redactor is None:
            return value
        return self.redactor.restore_value(
            value, tenant=approval.tenant, conversation_id=approval.conversation_id
        )

    def restored(self, approval: Approval, value: Any) -> Any:
        return self._restore(approval, value)
