"""FastAPI dependencies, each declared once: the runtime, the caller (from the bearer key), scopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, authenticate
from api.errors import Unavailable
from api.models import SCOPES
from api.runtime import Runtime

SYSTEM_TENANT = "_system"  # audit events that belong to no tenant (failed logins)
_bearer = HTTPBearer(auto_error=False, description="An API key created with `deskpilot keys create`.")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_principal(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401, "missing bearer token: send 'Authorization: Bearer <key>'", headers=challenge
        )
    principal = authenticate(
        runtime.engine, credentials.credentials, touch_every_s=runtime.settings.key_last_used_every_s
    )
    if principal is None:
        runtime.audit.record(
            tenant=SYSTEM_TENANT,
            type="auth.failed",
            payload={
                "path": request.url.path,
                "method": request.method,
                "client": request.client.host if request.client else None,
            },
        )
        raise HTTPException(401, "invalid, revoked or expired API key", headers=challenge)
    limits = getattr(request.app.state, "limits", None)  # api.limits.Limits, set by create_app
    if limits is not None:
        limits.admit(runtime, principal)  # 429 past the key's or the tenant's requests a minute
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_scope(*scopes: str) -> Callable[..., Principal]:
    """A dependency that lets the caller through when the key holds any of `scopes`."""

    def check(principal: PrincipalDep) -> Principal:
        if not principal.has(*scopes):
            raise HTTPException(403, f"this key lacks the required scope ({' or '.join(scopes)})")
        return principal

    return check


def get_knowledge_base(runtime: RuntimeDep) -> Any:
    if runtime.knowledge is None:
        raise Unavailable("the knowledge base is not configured")
    return runtime.knowledge


KnowledgeDep = Annotated[Any, Depends(get_knowledge_base)]

AgentKey = Annotated[Principal, Depends(require_scope("agent", "integration", "admin"))]
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]
ApproverKey = Annotated[Principal, Depends(require_scope("approve"))]
IntegrationKey = Annotated[Principal, Depends(require_scope("integration", "admin"))]
AnyKey = Annotated[Principal, Depends(require_scope(*SCOPES))]
