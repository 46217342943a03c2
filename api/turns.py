"""Turns that nothing can lose: stored before the model runs, run apart from the client, then recorded.

1. **Receive**: the customer's message (redacted), the turn row (`running`) and the `turn.received`
   audit event commit together, before the model is called.
2. **Run**: the turn runs in its own task under the conversation's lock. A client that drops its stream
   only stops listening; the turn goes on and is stored.
3. **Finish**: the reply, its usage, the turn's `done` status and the `reply.sent` event commit together;
   any failure marks the turn `failed` (the error's type only, never its text), and it can be retried.
4. **Recover**: a turn whose process was killed stays `running` until the maintenance sweep marks it
   `failed`; a retry continues from the graph's last checkpoint. The graph writes its checkpoint when a
   run ends (agent.service.DURABILITY), so a run killed midway is retried from its stored message: reads
   run again, while changes are made only after an approval, which pauses the run on a checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import Engine, text, update
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from agent.deadline import deadline
from agent.turns import TurnEvent, TurnResult
from api.audit import AuditLog
from api.errors import ApiError, ConflictError
from api.metrics import Metrics
from api.models import Conversation, Message, Turn, UsageRecord, utcnow

log = logging.getLogger(__name__)
tracer = trace.get_tracer("deskpilot.turns")
_END = object()
HARD_DEADLINE_GRACE_S = 10.0  # past the turn's deadline, a turn still running is failed (retryable)


class TurnFailed(ApiError):
    """The turn could not finish; its message is kept, it is stored as failed and can be retried."""

    status_code = 503
    code = "turn_failed"

    def __init__(self, turn_id: str, error: str) -> None:
        super().__init__(
            f"the turn could not finish ({error}); the message is kept: retry the turn",
            turn_id=turn_id,
            error=error,
        )


class TurnRunner:
    def __init__(self, *, engine: Engine, audit: AuditLog, metrics: Metrics, deadline_s: float) -> None:
        self.engine = engine
        self.audit = audit
        self.metrics = metrics
        self.deadline_s = deadline_s
        # One turn at a time per conversation: the graph's checkpoint is a single timeline.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()

    # --- 1. receive --------------------------------------------------------------------------------------

    def receive(
        self,
        *,
        conversation: Conversation,
        kind: str,
        channel: str,
        actor: str | None,
        text: str,
        audit_payload: dict[str, Any],
    ) -> tuple[Turn, Message | None, list[Message]]:
        """Stores the customer's message (if any) and a running turn that takes the staff messages and
        notes written since the last turn; returns (turn, customer message, context messages)."""
        with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
            turn = Turn(
                tenant=conversation.tenant,
                conversation_id=conversation.id,
                kind=kind,
                channel=channel,
                actor=actor,
            )
            context = list(
                session.exec(
                    select(Message)
                    .where(
                        Message.conversation_id == conversation.id,
                        col(Message.role).in_(("staff", "note")),
                        col(Message.turn_id).is_(None),
                    )
                    .order_by(col(Message.id))
                )
            )
            for message in context:
                message.turn_id = turn.id
                session.add(message)
            customer = None
            if text:
                customer = Message(
                    conversation_id=conversation.id,
                    tenant=conversation.tenant,
                    role="customer",
                    content=text,
                    turn_id=turn.id,
                )
                session.add(customer)
            session.flush()
            turn.input_message_ids = [m.id for m in [*context, *([customer] if customer else [])] if m.id]
            session.add(turn)
            self.audit.append(
                session,
                tenant=conversation.tenant,
                type="turn.received",
                actor=actor,
                conversation_id=conversation.id,
                payload={"turn_id": turn.id, "kind": kind, "channel": channel, **audit_payload},
            )
            session.commit()
        return turn, customer, context

    # --- 2. run ------------------------------------------------------------------------------------------

    async def run(
        self,
        turn: Turn,
        events: Callable[[], AsyncIterator[TurnEvent]],
        *,
        store: Callable[[TurnResult], None],
        guard: Callable[[], Awaitable[None]] | None = None,
        locked: bool = False,
    ) -> AsyncIterator[TurnEvent]:
        """Runs the turn in its own task and relays its events; closing this iterator does not stop it.

        `guard` runs under the conversation's lock before the graph (an ApiError from it fails the turn and
        reaches the caller); `locked` says the caller already holds the lock.
        """
        queue: asyncio.Queue[Any] = asyncio.Queue()
        # The turn's span lasts as long as the turn, not as long as this caller listens.
        span = tracer.start_span("deskpilot.turn", attributes=turn_attributes(turn))
        with trace.use_span(span, end_on_exit=False):
            task = asyncio.create_task(self._drive(turn, events, store, guard, locked, queue.put_nowait))
        task.add_done_callback(lambda _: span.end())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        while (item := await queue.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item

    async def _drive(
        self,
        turn: Turn,
        events: Callable[[], AsyncIterator[TurnEvent]],
        store: Callable[[TurnResult], None],
        guard: Callable[[], Awaitable[None]] | None,
        locked: bool,
        emit: Callable[[Any], None],
    ) -> None:
        started = time.perf_counter()
        try:
            # The model steps answer (degraded if need be) within `deadline_s`; the hard timeout above it
            # is the last resort for a turn stuck elsewhere.
            async with (
                self._held(turn.conversation_id, locked),
                asyncio.timeout(self.deadline_s + HARD_DEADLINE_GRACE_S),
            ):
                if guard is not None:
                    await guard()
                with deadline(self.deadline_s):
                    async for event in events():
                        if event.kind == "final":
                            await run_in_threadpool(store, event.data)
                            self.metrics.observe_turn(
                                event.data, channel=turn.channel, seconds=time.perf_counter() - started
                            )
                        emit(event)
        except ApiError as error:  # refused under the lock (say, an approval started waiting meanwhile)
            await self._fail_soft(turn, error.code)
            emit(error)
        except Exception as error:  # noqa: BLE001 - any failure is recorded; the type only, never its text
            name = "deadline" if isinstance(error, TimeoutError) else type(error).__name__
            log.warning("turn %s failed: %s", turn.id, name, exc_info=not isinstance(error, TimeoutError))
            await self._fail_soft(turn, name)
            emit(TurnFailed(turn.id, name))
        finally:
            emit(_END)

    async def _fail_soft(self, turn: Turn, error: str) -> None:
        """Records the failure; if the database itself is away (PostgreSQL restarting), the caller still
        gets its 503 and the turn stays `running` until the maintenance sweep fails it (then retryable).
        Without this the recording's own error ended the turn with no event: a RuntimeError, a 500."""
        try:
            await run_in_threadpool(self.fail, turn, error)
        except Exception as recording:  # noqa: BLE001 - the answer to the caller matters more
            log.warning("turn %s: failure not recorded (%s)", turn.id, type(recording).__name__)

    async def wait_idle(self, timeout_s: float) -> None:
        """On shutdown: lets running turns finish (up to `timeout_s`) instead of cutting them off."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    @asynccontextmanager
    async def _held(self, conversation_id: str, locked: bool) -> AsyncIterator[None]:
        if locked:
            yield
            return
        async with self.lock(conversation_id):
            yield

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        """One turn at a time per conversation, since the checkpoint is a single timeline: in this process
        (an asyncio lock), and across processes too. On PostgreSQL, an advisory lock held on its own
        connection. On SQLite (one machine, several processes), an exclusive `fcntl.flock` on one of 4,096
        lock files beside the database file (`locks/turn-NNNN.lock`, picked by a hash of the conversation
        id): taken without blocking and retried every few ms, so a cancelled waiter holds nothing; the kernel
        drops it when its process dies, so a SIGKILL leaves no stale lock. The PostgreSQL lock's connection
        is not taken from the engine's pool (see below); size PostgreSQL's max_connections for it."""
        async with self._locks[conversation_id]:
            database = self.engine.url.database
            if self.engine.dialect.name == "sqlite" and database and database != ":memory:":
                import fcntl
                import os
                import zlib
                from pathlib import Path

                folder = self.__dict__.get("_lock_folder")
                if folder is None:  # resolved and made once, not on every turn
                    folder = Path(database).resolve().parent / "locks"
                    folder.mkdir(exist_ok=True)
                    self.__dict__["_lock_folder"] = folder
                bucket = zlib.crc32(conversation_id.encode()) % 4096
                fd = os.open(folder / f"turn-{bucket:04d}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    pause = 0.002
                    while True:
                        try:
                            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                            break
                        except BlockingIOError:
                            await asyncio.sleep(pause)
                            pause = min(pause * 2, 0.05)
                    yield
                finally:
                    os.close(fd)  # closing the only descriptor releases the lock
                return
            if self.engine.dialect.name != "postgresql":
                yield
                return
            key = {"key": f"deskpilot:conversation:{conversation_id}"}
            # The lock's connection lives as long as the turn: it comes from its own unpooled engine, so
            # many turns at once never starve the pool that the turns themselves read and write through.
            lock_engine = self.__dict__.get("_lock_engine")
            if lock_engine is None:
                from sqlalchemy import create_engine
                from sqlalchemy.pool import NullPool

                lock_engine = create_engine(self.engine.url, poolclass=NullPool)
                self.__dict__["_lock_engine"] = lock_engine
            connection = await run_in_threadpool(lock_engine.connect)
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

    # --- 3. finish ---------------------------------------------------------------------------------------

    def finish(self, turn: Turn, result: TurnResult, *, customer_id: str | None, draft: bool) -> Message:
        """The reply, usage, the turn's status, a handoff and their audit events, in one transaction."""
        with self.audit.lock, Session(self.engine, expire_on_commit=False) as session:
            conversation = session.get(Conversation, turn.conversation_id)
            assert conversation is not None
            if conversation.customer_id is None and customer_id is not None:
                conversation.customer_id = customer_id
            handed_off = bool(result.handoff) and conversation.status != "needs_human"
            if handed_off:
                conversation.status = "needs_human"
                conversation.handoff_reason = str((result.handoff or {}).get("reason_category"))
            conversation.updated_at = utcnow()
            session.add(conversation)
            reply = Message(
                conversation_id=conversation.id,
                tenant=conversation.tenant,
                role="assistant",
                turn_id=turn.id,
                content=result.reply_redacted,
                meta={
                    "model": result.model,
                    "degraded": result.degraded,
                    "degraded_reason": result.degraded_reason,
                    "draft": draft,
                    "citations": result.citations,
                    "tool_calls": [{"name": c["name"], "status": c["status"]} for c in result.tool_calls],
                    "usage": result.usage,
                    "pending_approval": result.pending_approval,
                },
            )
            session.add(reply)
            session.flush()
            session.add_all(UsageRecord.for_calls(conversation.tenant, conversation.id, result.usage))
            # One UPDATE, without reading the row back first: nothing else of it changes here.
            session.execute(
                update(Turn)
                .where(col(Turn.id) == turn.id)
                .values(status="done", error=None, finished_at=utcnow(), reply_message_id=reply.id)
            )
            self.audit.append(
                session,
                tenant=conversation.tenant,
                type="reply.sent" if not draft else "draft.suggested",
                actor=turn.actor,
                conversation_id=conversation.id,
                payload={
                    "turn_id": turn.id,
                    "model": result.model,
                    "degraded": result.degraded,
                    "content": result.reply_redacted,
                    "usage": result.usage,
                    "citations": [c["chunk_id"] for c in result.citations],
                    "pending_approval": result.pending_approval,
                },
            )
            if handed_off:
                self.audit.append(
                    session,
                    tenant=conversation.tenant,
                    type="conversation.needs_human",
                    actor=None,
                    conversation_id=conversation.id,
                    payload={
                        "reason_category": conversation.handoff_reason,
                        "ticket_id": (result.handoff or {}).get("ticket_id"),
                    },
                )
            session.commit()
        return reply

    def fail(self, turn: Turn, error: str) -> None:
        trace.get_current_span().set_status(Status(StatusCode.ERROR, error[:200]))  # the turn's, if any
        with self.audit.lock, Session(self.engine) as session:
            changed = session.execute(
                update(Turn)
                .where(col(Turn.id) == turn.id, col(Turn.status) == "running")
                .values(status="failed", error=error[:200], finished_at=utcnow())
            ).rowcount  # type: ignore[attr-defined]
            if changed:
                self.audit.append(
                    session,
                    tenant=turn.tenant,
                    type="turn.failed",
                    actor=turn.actor,
                    conversation_id=turn.conversation_id,
                    payload={"turn_id": turn.id, "error": error[:200]},
                )
            session.commit()

    # --- 4. recover --------------------------------------------------------------------------------------

    def mark_stale(self, older_than_s: float) -> int:
        """Turns still `running` long after any turn could (their process died) become `failed`."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        with Session(self.engine) as session:
            stale = list(
                session.exec(select(Turn).where(Turn.status == "running", col(Turn.started_at) <= cutoff))
            )
        for turn in stale:
            self.fail(turn, "interrupted")
        return len(stale)

    def restart(self, turn: Turn) -> Turn:
        """A failed turn back to running, for a retry; a turn that is not failed cannot be retried."""
        with Session(self.engine, expire_on_commit=False) as session:
            changed = session.execute(
                update(Turn)
                .where(col(Turn.id) == turn.id, col(Turn.status) == "failed")
                .values(status="running", error=None, started_at=utcnow(), finished_at=None)
            ).rowcount  # type: ignore[attr-defined]
            session.commit()
            row = session.get(Turn, turn.id)
        assert row is not None
        if not changed:
            raise ConflictError(f"turn {turn.id} is {row.status}; only a failed turn can be retried")
        return row

    def get(self, tenant: str, turn_id: str) -> Turn | None:
        with Session(self.engine, expire_on_commit=False) as session:
            turn = session.get(Turn, turn_id)
        return turn if turn is not None and turn.tenant == tenant else None

    def of_conversation(self, tenant: str, conversation_id: str, limit: int = 50) -> list[Turn]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(Turn)
                    .where(Turn.tenant == tenant, Turn.conversation_id == conversation_id)
                    .order_by(col(Turn.started_at).desc())
                    .limit(limit)
                )
            )

    def messages(self, ids: Sequence[int]) -> list[Message]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(
                session.exec(select(Message).where(col(Message.id).in_(list(ids))).order_by(col(Message.id)))
            )


def turn_attributes(turn: Turn) -> dict[str, str]:
    """Ids and labels only: span attributes never carry message text."""
    return {
        "deskpilot.turn.id": turn.id,
        "deskpilot.turn.kind": turn.kind,
        "deskpilot.conversation.id": turn.conversation_id,
        "deskpilot.tenant": turn.tenant,
        "deskpilot.channel": turn.channel,
    }


_DETACHED: set[asyncio.Future[Any]] = set()


async def shielded(awaitable: Awaitable[Any]) -> Any:
    """Runs to the end even if the caller is cancelled (a client that disconnects)."""
    task = asyncio.ensure_future(awaitable)
    _DETACHED.add(task)
    task.add_done_callback(_DETACHED.discard)
    return await asyncio.shield(task)
