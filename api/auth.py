"""API keys: created once and shown once, stored as SHA-256 hashes, each bound to a tenant and scopes.

Every request reads its key's row, so a revoked or expired key is refused at once by every process (no
cache to outlive a revocation); only the last-used time is written lazily, at most once a minute.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from api.models import SCOPES, ApiKey, utcnow

KEY_PREFIX = "dp_"
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from the bearer key, never from the request body."""

    tenant: str
    key_id: str
    scopes: frozenset[str]

    def has(self, *scopes: str) -> bool:
        return any(scope in self.scopes for scope in scopes)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_tenant(tenant: str) -> str:
    if not TENANT_PATTERN.match(tenant):
        raise ValueError("tenant must be 1-64 characters of a-z, 0-9, '-' or '_'")
    return tenant


def parse_scopes(raw: str | list[str]) -> list[str]:
    scopes = [s.strip() for s in (raw.split(",") if isinstance(raw, str) else raw) if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {unknown or 'none'}")
    return sorted(set(scopes), key=SCOPES.index)


def create_key(
    engine: Engine,
    *,
    tenant: str,
    scopes: list[str],
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Returns the stored row and the secret, which exists nowhere else afterwards."""
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise ValueError("expires_at must be in the future")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        tenant=validate_tenant(tenant),
        scopes=parse_scopes(scopes),
        name=name,
        key_hash=hash_key(secret),
        expires_at=as_utc(expires_at) if expires_at else None,
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(row)
        session.commit()
    return row, secret


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_active(row: ApiKey) -> bool:
    return row.revoked_at is None and (row.expires_at is None or as_utc(row.expires_at) > utcnow())


_touched: dict[str, float] = {}  # key id -> when this process last wrote its last-used time
_touched_lock = threading.Lock()


def authenticate(engine: Engine, secret: str, *, touch_every_s: float = 60.0) -> Principal | None:
    if not secret.startswith(KEY_PREFIX):
        return None
    with Session(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
    if row is None or not is_active(row):
        return None
    _touch(engine, row.id, touch_every_s)
    return Principal(tenant=row.tenant, key_id=row.id, scopes=frozenset(row.scopes))


def _touch(engine: Engine, key_id: str, every_s: float) -> None:
    """Records the key's use, at most once per `every_s` in this process and in the database (the
    conditional UPDATE), so a busy key costs one write a minute, not one per request."""
    now = time.monotonic()
    with _touched_lock:
        if now - _touched.get(key_id, -every_s - 1) < every_s:
            return
        _touched[key_id] = now
    cutoff = utcnow() - timedelta(seconds=every_s)
    with Session(engine) as session:
        session.execute(
            update(ApiKey)
            .where(
                col(ApiKey.id) == key_id,
                or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < cutoff),
            )
            .values(last_used_at=utcnow())
        )
        session.commit()


def has_any_key(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(ApiKey.id).limit(1)).first() is not None


def find_key(engine: Engine, key: str, *, tenant: str | None = None) -> ApiKey | None:
    """By id (key_...) or by the secret itself (dp_...); `tenant` confines the search to one tenant."""
    with Session(engine, expire_on_commit=False) as session:
        if key.startswith(KEY_PREFIX):
            row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
        else:
            row = session.get(ApiKey, key)
    if row is None or (tenant is not None and row.tenant != tenant):
        return None
    return row


def list_keys(engine: Engine, *, tenant: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(col(ApiKey.created_at))
    if tenant is not None:
        query = query.where(ApiKey.tenant == tenant)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(query))


def revoke_key(engine: Engine, key: str, *, tenant: str | None = None) -> ApiKey | None:
    """Revokes a key given by id or by secret; the revoked row, or None when there is no such key."""
    row = find_key(engine, key, tenant=tenant)
    if row is None:
        return None
    with Session(engine, expire_on_commit=False) as session:
        stored = session.get(ApiKey, row.id)
        assert stored is not None
        if stored.revoked_at is None:
            stored.revoked_at = utcnow()
            session.add(stored)
            session.commit()
        return stored


def rotate_key(engine: Engine, key: str, *, tenant: str | None = None) -> tuple[ApiKey, str] | None:
    """A new secret with the same tenant, scopes, name and expiry; the old one is revoked in the same
    transaction, so exactly one of the two works at any moment."""
    row = find_key(engine, key, tenant=tenant)
    if row is None or not is_active(row):
        return None
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    fresh = ApiKey(
        tenant=row.tenant,
        scopes=list(row.scopes),
        name=row.name,
        key_hash=hash_key(secret),
        expires_at=row.expires_at,
    )
    with Session(engine, expire_on_commit=False) as session:
        revoked = session.execute(
            update(ApiKey)
            .where(col(ApiKey.id) == row.id, col(ApiKey.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        ).rowcount  # type: ignore[attr-defined]
        if not revoked:  # revoked meanwhile (say, by another admin): nothing to rotate
            session.rollback()
            return None
        session.add(fresh)
        session.commit()
    return fresh, secret
