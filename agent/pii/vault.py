"""The PII vault: placeholder <-> value per tenant and conversation, values encrypted at rest (Fernet)."""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Column, Connection, Engine, LargeBinary, UniqueConstraint, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from agent.pii.placeholders import make_placeholder

_MAX_ATTEMPTS = 20  # concurrent writers in one conversation race for the next number; each retry wins one


class PiiVaultEntry(SQLModel, table=True):
    """One pseudonymised value of one conversation. Only the placeholder and type are readable."""

    __tablename__ = "pii_vault"
    __table_args__ = (
        UniqueConstraint("tenant", "conversation_id", "placeholder", name="uq_pii_vault_placeholder"),
        UniqueConstraint("tenant", "conversation_id", "value_hmac", name="uq_pii_vault_value"),
        UniqueConstraint("tenant", "conversation_id", "number", name="uq_pii_vault_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=128)
    conversation_id: str = Field(index=True, max_length=256)
    number: int = Field(ge=1)
    placeholder: str = Field(max_length=64)
    entity_type: str = Field(max_length=64)
    value_encrypted: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    value_hmac: str = Field(max_length=64)  # keyed, so the database alone cannot confirm a guessed value
    created_at: datetime
    last_used: datetime = Field(index=True)


_TABLE = PiiVaultEntry.__table__  # type: ignore[attr-defined]  # Core statements, no ORM objects


def load_or_create_key(path: Path) -> bytes:
    """Read the Fernet key at `path`, or create it there (mode 0600) on first start."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return load_or_create_key(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
    Fernet(key)  # fail at start-up on a damaged key file, not at the first redaction
    return key


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def normalise(value: str) -> str:
    """The form two mentions of one value share: case and spacing ignored, and separators too when the
    value is mostly digits (`4111 1111 1111 1111` is `4111-1111-1111-1111`)."""
    text = " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    alnum = [ch for ch in text if ch.isalnum()]
    if alnum and sum(ch.isdigit() for ch in alnum) * 10 >= len(alnum) * 6:
        return "".join(alnum)
    return text


class PiiVault:
    """Stores what each placeholder stands for, scoped to (tenant, conversation), encrypted with Fernet.

    The same value gets the same placeholder in a conversation for as long as the rows live, across turns,
    processes and restarts, found through a keyed HMAC so nothing needs decrypting; placeholders are
    numbered per conversation, so two conversations never share a mapping.
    """

    def __init__(self, engine: Engine, key: bytes, retention_days: int = 90) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self._engine = engine
        self._fernet = Fernet(key)
        # A separate key for lookups, derived so that one secret is all an operator has to keep.
        self._hmac_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"deskpilot pii-vault lookup"
        ).derive(key)
        self.retention = timedelta(days=retention_days)
        SQLModel.metadata.create_all(engine, tables=[PiiVaultEntry.__table__])  # type: ignore[attr-defined]

    def _hmac(self, tenant: str, conversation_id: str, value: str) -> str:
        message = "\x1f".join((tenant, conversation_id, normalise(value))).encode()
        return hmac.new(self._hmac_key, message, hashlib.sha256).hexdigest()

    def placeholders_for(
        self, tenant: str, conversation_id: str, items: Sequence[tuple[str, str]]
    ) -> list[str]:
        """Placeholders for (short type, value) pairs, creating the missing ones; same value, same one.

        One read and at most one commit per call, whatever the number of values (a commit is the cost).
        SQLAlchemy Core rather than ORM objects: this runs on every message, and building an ORM entity per
        value was half the vault's time.
        """
        digests = [self._hmac(tenant, conversation_id, value) for _, value in items]
        if not digests:
            return []
        for _ in range(_MAX_ATTEMPTS):
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(_TABLE.c.id, _TABLE.c.value_hmac, _TABLE.c.placeholder, _TABLE.c.last_used).where(
                        _TABLE.c.tenant == tenant,
                        _TABLE.c.conversation_id == conversation_id,
                        _TABLE.c.value_hmac.in_(sorted(set(digests))),
                    )
                ).all()
                known = {row.value_hmac: row.placeholder for row in rows}
                now = _utcnow()
                new_rows = self._new_rows(connection, tenant, conversation_id, items, digests, known, now)
                # Keep retention moving for values still in use, without a write on every message.
                stale = [row.id for row in rows if now - _aware_utc(row.last_used) > timedelta(minutes=1)]
                if new_rows or stale:
                    try:
                        if new_rows:
                            connection.execute(_TABLE.insert(), new_rows)
                        if stale:
                            connection.execute(
                                _TABLE.update().where(_TABLE.c.id.in_(stale)).values(last_used=now)
                            )
                        connection.commit()
                    except IntegrityError:
                        connection.rollback()  # another writer took a number or stored a value first: again
                        continue
                known.update({row["value_hmac"]: row["placeholder"] for row in new_rows})
                return [known[digest] for digest in digests]
        raise RuntimeError("could not allocate placeholders after repeated conflicts")

    def _new_rows(
        self,
        connection: Connection,
        tenant: str,
        conversation_id: str,
        items: Sequence[tuple[str, str]],
        digests: list[str],
        known: dict[str, str],
        now: datetime,
    ) -> list[dict[str, object]]:
        first_seen: dict[str, tuple[str, str]] = {}
        for (kind, value), digest in zip(items, digests, strict=True):
            if digest not in known:
                first_seen.setdefault(digest, (kind, value))
        if not first_seen:
            return []
        highest = connection.execute(
            select(func.max(_TABLE.c.number)).where(
                _TABLE.c.tenant == tenant, _TABLE.c.conversation_id == conversation_id
            )
        ).scalar()
        rows: list[dict[str, object]] = []
        for offset, (digest, (kind, value)) in enumerate(first_seen.items(), start=1):
            number = (highest or 0) + offset
            rows.append(
                {
                    "tenant": tenant,
                    "conversation_id": conversation_id,
                    "number": number,
                    "placeholder": make_placeholder(kind, number),
                    "entity_type": kind,
                    "value_encrypted": self._fernet.encrypt(value.encode()),
                    "value_hmac": digest,
                    "created_at": now,
                    "last_used": now,
                }
            )
        return rows

    def values_for(self, tenant: str, conversation_id: str, placeholders: Iterable[str]) -> dict[str, str]:
        """The decrypted values of the given placeholders that exist in this conversation."""
        wanted = sorted(set(placeholders))
        if not wanted:
            return {}
        with Session(self._engine) as session:
            rows = session.exec(
                select(PiiVaultEntry).where(
                    PiiVaultEntry.tenant == tenant,
                    PiiVaultEntry.conversation_id == conversation_id,
                    PiiVaultEntry.placeholder.in_(wanted),  # type: ignore[attr-defined]
                )
            ).all()
            return {row.placeholder: self._fernet.decrypt(row.value_encrypted).decode() for row in rows}

    def delete_conversation(self, tenant: str, conversation_id: str) -> int:
        """Forget every value of one conversation (a deletion request); returns how many were removed."""
        statement = delete(PiiVaultEntry).where(
            PiiVaultEntry.tenant == tenant,  # type: ignore[arg-type]
            PiiVaultEntry.conversation_id == conversation_id,  # type: ignore[arg-type]
        )
        return self._delete(statement)

    def purge_expired(self, now: datetime | None = None) -> int:
        """Remove values not used within the retention period; returns how many were removed."""
        cutoff = _aware_utc(now or _utcnow()) - self.retention
        return self._delete(delete(PiiVaultEntry).where(PiiVaultEntry.last_used < cutoff))  # type: ignore[arg-type]

    def _delete(self, statement: object) -> int:
        with Session(self._engine) as session:
            result = session.exec(statement)  # type: ignore[call-overload]
            session.commit()
            return int(result.rowcount or 0)
