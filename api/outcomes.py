"""Outcome figures from the tables: what the copilot did for a tenant in a window, in total and by day or
channel (`GET /v1/outcomes`, `deskpilot report`).

Each figure is counted at its own moment (a conversation when it started, a turn when it ran, an
approval when it was proposed, feedback and CSAT when given, a model call when made) and grouped by
that moment's UTC day or by the channel of its conversation. Definitions:

- **resolved without a human** (deflection): a conversation started in the window that has at least
  one assistant reply (not a staff draft), never went to `needs_human`, and has no staff reply.
- **handoffs**: `conversation.needs_human` events, by reason category (anything else is `other`).
- **approvals**: proposed in the window, by how they stand now (executed and failed count as
  approved); the median time to a staff decision leaves expiries out.
- **drafts**: staff drafts suggested in the window, and how many of those a channel reported used.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from api.errors import InvalidInput
from api.models import Approval, AuditEvent, Conversation, Feedback, Message, Turn, UsageRecord
from api.signals import CsatResponse
from tools.base import ReasonCategory

GroupBy = Literal["day", "channel"]
HANDOFF_REASONS = frozenset(get_args(ReasonCategory))
APPROVED = frozenset({"approved", "executed", "failed"})
TOP_REASONS = 10


# --- the window --------------------------------------------------------------------------------------


def parse_moment(value: str, *, end: bool, name: str) -> datetime:
    """An ISO date or date-time; without a timezone it is UTC. A bare `to` date includes that day."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name}: not an ISO date or date-time: {value[:40]!r}", field=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def window(
    start: str | None, end: str | None, *, days: int = 30, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """[start, end) in UTC; by default the last `days` days up to now."""
    until = parse_moment(end, end=True, name="to") if end else (now or datetime.now(UTC))
    since = parse_moment(start, end=False, name="from") if start else until - timedelta(days=days)
    if since >= until:
        raise InvalidInput("from must be before to", field="from")
    return since, until


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- the figures of one group ------------------------------------------------------------------------


@dataclass
class _Figures:
    conversations: int = 0
    deflected: int = 0
    turns: Counter[str] = field(default_factory=Counter)
    turn_kinds: Counter[str] = field(default_factory=Counter)
    handoffs: Counter[str] = field(default_factory=Counter)
    approvals: Counter[str] = field(default_factory=Counter)
    decision_seconds: list[float] = field(default_factory=list)
    drafts: Counter[str] = field(default_factory=Counter)
    feedback: Counter[str] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    csat: Counter[int] = field(default_factory=Counter)
    usage: Counter[str] = field(default_factory=Counter)
    cost_usd: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        responses = sum(self.csat.values())
        input_tokens = self.usage["input_tokens"]
        return {
            "conversations": self.conversations,
            "turns": {
                "total": sum(self.turns.values()),
                **{s: self.turns[s] for s in ("done", "failed", "running")},
                "by_kind": {k: self.turn_kinds[k] for k in ("reply", "draft", "resume")},
            },
            "resolved_without_human": self.deflected,
            "deflection_rate": _share(self.deflected, self.conversations),
            "handoffs": {
                "total": sum(self.handoffs.values()),
                "by_reason": dict(sorted(self.handoffs.items())),
            },
            "approvals": {
                "proposed": sum(self.approvals.values()),
                **{s: self.approvals[s] for s in ("approved", "rejected", "expired", "pending")},
                "median_seconds_to_decision": round(statistics.median(self.decision_seconds), 1)
                if self.decision_seconds
                else None,
            },
            "drafts": {
                "suggested": self.drafts["suggested"],
                "used": self.drafts["used"],
                "used_rate": _share(self.drafts["used"], self.drafts["suggested"]),
            },
            "feedback": {
                "up": self.feedback["up"],
                "down": self.feedback["down"],
                "reasons": [
                    {"rating": rating, "reason": reason, "count": count}
                    for (rating, reason), count in sorted(
                        self.reasons.items(), key=lambda kv: (-kv[1], kv[0])
                    )[:TOP_REASONS]
                ],
            },
            "csat": {
                "responses": responses,
                "average": round(sum(s * n for s, n in self.csat.items()) / responses, 2)
                if responses
                else None,
                "distribution": {str(s): self.csat[s] for s in range(1, 6)},
                "satisfied_share": _share(self.csat[4] + self.csat[5], responses),
            },
            "cost": {
                "model_calls": self.usage["model_calls"],
                "input_tokens": input_tokens,
                "cached_tokens": self.usage["cached_tokens"],
                "output_tokens": self.usage["output_tokens"],
                "cost_usd": round(self.cost_usd, 6),
                "cached_share": _share(self.usage["cached_tokens"], input_tokens),
            },
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- reading the tables ------------------------------------------------------------------------------


class _Groups:
    """Figures for the whole window plus one set per group key."""

    def __init__(self, group_by: GroupBy | None, channels: dict[str, str]) -> None:
        self.group_by = group_by
        self.channels = channels
        self.total = _Figures()
        self.groups: defaultdict[str, _Figures] = defaultdict(_Figures)

    def of(self, moment: datetime, conversation_id: str | None) -> Iterable[_Figures]:
        yield self.total
        if self.group_by == "day":
            yield self.groups[_utc(moment).date().isoformat()]
        elif self.group_by == "channel":
            yield self.groups[self.channels.get(conversation_id or "", "unknown")]


def compute(
    engine: Engine, *, tenant: str, start: datetime, end: datetime, group_by: GroupBy | None = None
) -> dict[str, Any]:
    with Session(engine) as session:
        figures = _Groups(group_by, _channels(session, tenant))
        _conversations(session, figures, tenant, start, end)
        _turns(session, figures, tenant, start, end)
        _handoffs(session, figures, tenant, start, end)
        _approvals(session, figures, tenant, start, end)
        _drafts(session, figures, tenant, start, end)
        _feedback(session, figures, tenant, start, end)
        _csat(session, figures, tenant, start, end)
        _cost(session, figures, tenant, start, end)
    out: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": group_by,
        "totals": figures.total.as_dict(),
    }
    if group_by:
        out["groups"] = [{group_by: key, **figures.groups[key].as_dict()} for key in sorted(figures.groups)]
    return out


def _channels(session: Session, tenant: str) -> dict[str, str]:
    rows = session.exec(select(Conversation.id, Conversation.channel).where(Conversation.tenant == tenant))
    return dict(rows.all())


def _conversations(session: Session, figures: _Groups, tenant: str, start: datetime, end: datetime) -> None:
    started = session.exec(
        select(Conversation.id, Conversation.created_at, Conversation.status).where(
            Conversation.tenant == tenant,
            col(Conversation.created_at) >= start,
            col(Conversation.created_at) < end,
        )
    ).all()
    ids = [row[0] for row in started]
    handed_off = set(
        session.exec(
            select(AuditEvent.conversation_id).where(
                AuditEvent.tenant == tenant, col(AuditEvent.type) == "conversation.needs_human"
            )
        ).all()
    )
    staffed: set[str] = set()
    replied: set[str] = set()
    for chunk in _chunks(ids):
        staffed.update(
            session.exec(
                select(Message.conversation_id)
                .where(col(Message.conversation_id).in_(chunk), Message.role == "staff")
                .distinct()
            ).all()
        )
        replied.update(
            session.exec(
                select(Message.conversation_id)
                .where(
                    col(Message.conversation_id).in_(chunk),
                    Message.role == "assistant",
                    or_(_is_draft().is_(None), _is_draft().is_(False)),
                )
                .distinct()
            ).all()
        )
    for conversation_id, created_at, status in started:
        deflected = (
            conversation_id in replied
            and conversation_id not in staffed
            and conversation_id not in handed_off
            and status != "needs_human"
        )
        for group in figures.of(created_at, conversation_id):
            group.conversations += 1
            group.deflected += deflected


def _turns(session: Session, figures: _Groups, tenant: str, start: datetime, end: datetime) -> None:
    rows = session.exec(
        select(Turn.conversation_id, Turn.started_at, Turn.kind, Turn.status).where(
            Turn.tenant == tenant, col(Turn.started_at) >= start, col(Turn.started_at) < end
        )
    ).all()
    for conversation_id, started_at, kind, status in rows:
        for group in figures.of(started_at, conversation_id):
            group.turns[status] += 1
            group.turn_kinds[kind] += 1


def _handoffs(session: Session, figures: _Groups, tenant: str, start: datetime, end: datetime) -> None:
    rows = session.exec(
        select(AuditEvent.conversation_id, AuditEvent.created_at, AuditEvent.payload).where(
            AuditEvent.tenant == tenant,
            col(AuditEvent.type) == "conversation.needs_human",
            col(AuditEvent.created_at) >= start,
            col(AuditEvent.created_at) < end,
        )
    ).all()
    for conversation_id, created_at, payload in rows:
        reason = str((payload or {}).get("reason_category") or (payload or {}).get("reason"))
        for group in figures.of(created_at, conversation_id):
            group.handoffs[reason if reason in HANDOFF_REASONS else "other"] += 1


def _approvals(session: Session, figures: _Groups, tenant: str, start: datetime, end: datetime) -> None:
    rows = session.exec(
        select(Approval).where(
            Approval.tenant == tenant, col(Approval.created_at) >= start, col(Approval.created_at) < end
        )
    ).all()
    for approval in rows:
        status = "approved" if approval.status in APPROVED else approval.status
        decided = status in ("approved", "rejected") and approval.decided_at is not None
        for group in figures.of(approval.created_at, approval.conversation_id):
            group.approvals[status] += 1
            if decided:
                seconds = (_utc(approval.decided_at) - _utc(approval.created_at)).total_seconds()  # type: ignore[arg-type]
                group.decision_seconds.append(seconds)


def _drafts(session: Session, figures: _Groups, tenant: str, start: datetime, end: datetime) -> None:
    drafts = session.exec(
        select(Message.id, Message.conversation_id, Message.created_at).where(
            Message.tenant == tenant,
            Message.role == "assistant",
            _is_draft().is_(True),
            col(Message.created_at) >= start,
            col(Message.created_at) < end,
        )
    ).all()
    used = {
        payload.get("message_id")
        for payload in session.exec(
            select(AuditEvent.payload).where(
                AuditEvent.tenant == tenant, col(AuditEvent.type) == "draft.used"
            )
        ).all()
    }
    for message_id, conversation_id, created_at in drafts:
        for group in figures.of(created_at, conversation_id):
            group.drafts["suggested"] += 1
            group.drafts["used"] += message_id in used


def _feedback(session: Session, figures: _Groups, tenant: str, start: datetime, end: datetime) -> None:
    rows = session.exec(
        select(Feedback.conversation_id, Feedback.created_at, Feedback.rating, Feedback.reason).where(
            Feedback.tenant == tenant, col(Feedback.created_at) >= start, col(Feedback.created_at) < end
        )
    ).all()
    for conversation_id, created_at, rating, reason in rows:
        for group in figures.of(created_at, conversation_id):
            group.feedback[rating] += 1
            if reason:
                group.reasons[(rating, reason)] += 1


def _csat(session: Session, figures: _Groups, tenant: str, start: datetime, end: datetime) -> None:
    rows = session.exec(
        select(CsatResponse.conversation_id, CsatResponse.created_at, CsatResponse.score).where(
            CsatResponse.tenant == tenant,
            col(CsatResponse.created_at) >= start,
            col(CsatResponse.created_at) < end,
        )
    ).all()
    for conversation_id, created_at, score in rows:
        for group in figures.of(created_at, conversation_id):
            group.csat[score] += 1


def _cost(session: Session, figures: _Groups, tenant: str, start: datetime, end: datetime) -> None:
    rows = session.exec(
        select(  # type: ignore[call-overload]
            UsageRecord.conversation_id,
            UsageRecord.created_at,
            UsageRecord.input_tokens,
            UsageRecord.cached_tokens,
            UsageRecord.output_tokens,
            UsageRecord.cost_usd,
        ).where(
            UsageRecord.tenant == tenant,
            col(UsageRecord.created_at) >= start,
            col(UsageRecord.created_at) < end,
        )
    ).all()
    for conversation_id, created_at, input_tokens, cached, output, cost in rows:
        for group in figures.of(created_at, conversation_id):
            group.usage.update(
                model_calls=1, input_tokens=input_tokens, cached_tokens=cached, output_tokens=output
            )
            group.cost_usd += cost


def _is_draft() -> Any:
    """`meta.draft` read in the database (JSON_EXTRACT on SQLite, ->> on PostgreSQL), not in Python."""
    return col(Message.meta)["draft"].as_boolean()


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for at in range(0, len(items), size):
        yield items[at : at + size]
