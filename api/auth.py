"""API keys: created once and shown once, stored as SHA-256 hashes, each bound to a tenant and scopes."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

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


def create_key(engine: Engine, *, tenant: str, scopes: list[str], name: str = "") -> tuple[ApiKey, str]:
    """Returns the stored row and the secret, which exists nowhere else afterwards."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        tenant=validate_tenant(tenant), scopes=parse_scopes(scopes), name=name, key_hash=hash_key(secret)
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(row)
        session.commit()
    return row, secret


def authenticate(engine: Engine, secret: str) -> Principal | None:
    if not secret.startswith(KEY_PREFIX):
        return None
    with Session(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(tenant=row.tenant, key_id=row.id, scopes=frozenset(row.scopes))


def has_any_key(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(ApiKey.id).limit(1)).first() is not None


def revoke_key(engine: Engine, key_id: str) -> bool:
    with Session(engine) as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            return False
        row.revoked_at = utcnow()
        session.add(row)
        session.commit()
        return True
