"""API keys of the caller's tenant: list (never the secrets), create, rotate and revoke (admin)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import KEY_PREFIX, create_key, is_active, list_keys, revoke_key, rotate_key
from api.deps import AdminKey, RuntimeDep
from api.errors import ConflictError, InvalidInput, NotFoundError
from api.models import ApiKey, Scope
from api.schemas import links

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[Scope] = Field(min_length=1, description="agent, integration, admin, approve.")
    name: str = Field(default="", max_length=200)
    expires_at: datetime | None = Field(default=None, description="Refused from then on; unset: never.")


class KeyPublic(BaseModel):
    """A key without its secret: the secret is shown once, when it is made."""

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None
    active: bool

    @classmethod
    def of(cls, row: ApiKey) -> KeyPublic:
        return cls(
            id=row.id,
            name=row.name,
            scopes=list(row.scopes),
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            active=is_active(row),
        )


class KeyCreated(KeyPublic):
    key: str = Field(description="The secret: store it now, it is not shown again.")


class KeyList(BaseModel):
    keys: list[KeyPublic]


@router.get("", response_model=KeyList)
async def keys(runtime: RuntimeDep, principal: AdminKey) -> KeyList:
    rows = await run_in_threadpool(list_keys, runtime.engine, tenant=principal.tenant)
    return KeyList(keys=[KeyPublic.of(row) for row in rows])


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    responses={
        201: links(
            RotateKey=("rotate_v1_keys__key_id__rotate_post", {"key_id": "$response.body#/id"}),
            RevokeKey=("revoke_v1_keys__key_id__delete", {"key_id": "$response.body#/id"}),
        )
    },
)
async def create(body: KeyCreate, runtime: RuntimeDep, principal: AdminKey) -> KeyCreated:
    try:
        row, secret = await run_in_threadpool(
            create_key,
            runtime.engine,
            tenant=principal.tenant,
            scopes=list(body.scopes),
            name=body.name,
            expires_at=body.expires_at,
        )
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    _audit(runtime, principal.tenant, "key.created", principal.key_id, row)
    return KeyCreated(**KeyPublic.of(row).model_dump(), key=secret)


@router.post("/{key_id}/rotate", response_model=KeyCreated)
async def rotate(key_id: str, runtime: RuntimeDep, principal: AdminKey) -> KeyCreated:
    """A new secret with the same scopes, name and expiry; the old secret stops working at once."""
    _by_id(key_id)
    rotated = await run_in_threadpool(rotate_key, runtime.engine, key_id, tenant=principal.tenant)
    if rotated is None:
        if not await run_in_threadpool(_exists, runtime, key_id, principal.tenant):
            raise NotFoundError(f"key {key_id} not found")
        raise ConflictError(f"key {key_id} is revoked or expired; create a new one")
    row, secret = rotated
    _audit(runtime, principal.tenant, "key.rotated", principal.key_id, row, previous=key_id)
    return KeyCreated(**KeyPublic.of(row).model_dump(), key=secret)


@router.delete("/{key_id}", response_model=KeyPublic)
async def revoke(key_id: str, runtime: RuntimeDep, principal: AdminKey) -> KeyPublic:
    """Refused from the next request on, by every process."""
    _by_id(key_id)
    row = await run_in_threadpool(revoke_key, runtime.engine, key_id, tenant=principal.tenant)
    if row is None:
        raise NotFoundError(f"key {key_id} not found")
    _audit(runtime, principal.tenant, "key.revoked", principal.key_id, row)
    return KeyPublic.of(row)


def _by_id(key_id: str) -> None:
    # A secret in a URL ends up in access logs: the API takes ids only (the CLI takes either).
    if key_id.startswith(KEY_PREFIX):
        raise InvalidInput("give the key's id (key_...), not the key itself")


def _exists(runtime: RuntimeDep, key_id: str, tenant: str) -> bool:
    return any(row.id == key_id for row in list_keys(runtime.engine, tenant=tenant))


def _audit(runtime: RuntimeDep, tenant: str, type: str, actor: str, row: ApiKey, **extra: str) -> None:
    runtime.audit.record(
        tenant=tenant, type=type, actor=actor, payload={"key_id": row.id, "scopes": row.scopes, **extra}
    )
