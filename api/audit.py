"""Tamper-evident audit log: per-tenant SHA-256 chain over canonical JSON, plus a head row per tenant.

Editing an event breaks its hash, deleting or reordering events breaks the sequence or the links, and
deleting the newest events no longer matches the head. Payloads never hold raw PII: callers pass
redacted text, counts and hashes only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy import event as sa_event
from sqlmodel import Session, col, select

from api.models import AuditEvent, AuditHead, utcnow
from api.observability.context import current_request_id

GENESIS = "0" * 64
Listener = Callable[[str, dict[str, Any]], None]


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "tenant": event.tenant,
        "seq": event.seq,
        "type": event.type,
        "actor": event.actor,
        "conversation_id": event.conversation_id,
        "payload": event.payload,
        "created_at": _iso(event.created_at),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _iso(moment: datetime) -> str:
    # Hash UTC wall time without an offset: the same text before and after a database round trip.
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(event)).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    tenant: str | None = None
    seq: int | None = None
    reason: str | None = None


class AuditLog:
    """Appends events for every channel; one writer at a time per process, plus a DB lock on PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Writers in this process take turns; callers that append inside their own transaction hold it too.
        self.lock = threading.RLock()
        # Called with (type, payload) of each event once its transaction commits (api.metrics counts them).
        self.listeners: list[Listener] = []

    def record(
        self,
        *,
        tenant: str,
        type: str,
        actor: str | None = None,
        conversation_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> AuditEvent:
        with self.lock, Session(self._engine, expire_on_commit=False) as session:
            event = self.append(
                session,
                tenant=tenant,
                type=type,
                actor=actor,
                conversation_id=conversation_id,
                payload=payload,
            )
            session.commit()
            return event

    def append(
        self,
        session: Session,
        *,
        tenant: str,
        type: str,
        actor: str | None = None,
        conversation_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Adds an event inside the caller's transaction (so an action and its record commit together).

        Hold `self.lock` around the whole transaction when calling this directly.
        """
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": "audit:" + tenant})
        elif dialect == "sqlite":
            # Several processes may share one SQLite file. The driver opens a transaction only at the first
            # write, so reading the head first could read a head another process is about to move. A write
            # first takes the database's write lock (waiting for it), then the head is read under it.
            session.execute(text("UPDATE audit_heads SET seq = seq WHERE tenant = :t"), {"t": tenant})
        head = session.get(AuditHead, tenant) or AuditHead(tenant=tenant, seq=0, hash=GENESIS)
        if (request_id := current_request_id()) is not None:
            payload = {**(payload or {}), "request_id": request_id}  # hashed with the rest of the payload
        event = AuditEvent(
            tenant=tenant,
            seq=head.seq + 1,
            type=type,
            actor=actor,
            conversation_id=conversation_id,
            payload=json.loads(json.dumps(payload or {}, default=str)),
            created_at=utcnow(),
            prev_hash=head.hash,
            hash="",
        )
        event.hash = compute_hash(head.hash, event)
        head.seq, head.hash = event.seq, event.hash
        session.add(event)
        session.add(head)
        session.flush()
        if self.listeners:
            _notify_after_commit(session, (event.type, dict(event.payload)), self.listeners)
        return event

    def list(
        self,
        *,
        tenant: str,
        conversation_id: str | None = None,
        type: str | None = None,
        limit: int = 100,
        before_seq: int | None = None,
    ) -> list[AuditEvent]:
        with Session(self._engine) as session:
            query = select(AuditEvent).where(AuditEvent.tenant == tenant)
            if conversation_id:
                query = query.where(AuditEvent.conversation_id == conversation_id)
            if type:
                query = query.where(AuditEvent.type == type)
            if before_seq:
                query = query.where(AuditEvent.seq < before_seq)
            return list(session.exec(query.order_by(col(AuditEvent.seq).desc()).limit(limit)))

    def verify(self, tenant: str | None = None) -> VerifyResult:
        """Walks each tenant's chain in id order; returns the first broken event."""
        checked = 0
        with Session(self._engine) as session:
            heads = {h.tenant: h for h in session.exec(select(AuditHead))}
            tenants = (
                [tenant]
                if tenant
                else sorted(set(heads) | set(session.exec(select(AuditEvent.tenant).distinct())))
            )
            for name in tenants:
                prev, expected_seq = GENESIS, 1
                events = session.exec(
                    select(AuditEvent).where(AuditEvent.tenant == name).order_by(col(AuditEvent.id))
                )
                for event in events:
                    checked += 1
                    if event.seq != expected_seq:
                        return VerifyResult(
                            False,
                            checked,
                            name,
                            event.seq,
                            f"expected event {expected_seq}, found {event.seq} "
                            "(an event was deleted or reordered)",
                        )
                    if event.prev_hash != prev:
                        return VerifyResult(
                            False, checked, name, event.seq, "link to the previous event broken"
                        )
                    if compute_hash(prev, event) != event.hash:
                        return VerifyResult(
                            False, checked, name, event.seq, "content does not match its hash"
                        )
                    prev, expected_seq = event.hash, expected_seq + 1
                head = heads.get(name)
                if head is not None and (head.seq != expected_seq - 1 or head.hash != prev):
                    return VerifyResult(
                        False,
                        checked,
                        name,
                        expected_seq,
                        f"chain ends at event {expected_seq - 1} but the head records "
                        f"event {head.seq} (newest events deleted)",
                    )
        return VerifyResult(True, checked)


_PENDING = "deskpilot.audit.committed"


def _notify_after_commit(
    session: Session, item: tuple[str, dict[str, Any]], listeners: list[Listener]
) -> None:
    """Listeners hear of an event only once it is committed; a rollback drops it."""
    if _PENDING not in session.info:
        session.info[_PENDING] = []

        @sa_event.listens_for(session, "after_commit")
        def _committed(done: Session) -> None:
            pending, done.info[_PENDING] = done.info[_PENDING], []
            for (type_, payload), targets in pending:
                for listener in targets:
                    with contextlib.suppress(Exception):  # counting must never fail the action
                        listener(type_, payload)

        @sa_event.listens_for(session, "after_rollback")
        def _dropped(done: Session) -> None:
            done.info[_PENDING] = []

    session.info[_PENDING].append((item, list(listeners)))
