"""Channel integrations of the caller's tenant (admin): register, list, rotate secrets, remove."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminKey, RuntimeDep
from api.errors import NotFoundError
from api.integrations import Integration, IntegrationCreate, IntegrationPublic, SecretsRotate
from api.runtime import Runtime
from api.schemas import links

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])
_INTEGRATION = {"integration_id": "$response.body#/id"}


@router.post(
    "",
    status_code=201,
    response_model=IntegrationPublic,
    responses={
        201: links(
            GetIntegration=("get_integration_v1_integrations__integration_id__get", _INTEGRATION),
            RotateSecrets=("rotate_secrets_v1_integrations__integration_id__secrets_put", _INTEGRATION),
            DeleteIntegration=("delete_integration_v1_integrations__integration_id__delete", _INTEGRATION),
        )
    },
)
def create_integration(
    body: IntegrationCreate, runtime: RuntimeDep, principal: AdminKey
) -> IntegrationPublic:
    """Register a provider; give the provider the `inbound_url`. Secrets are sealed and never shown again."""
    integration = runtime.integrations.create(
        tenant=principal.tenant,
        provider=body.provider,
        config=body.config,
        secrets=body.secrets,
        actor=principal.key_id,
    )
    return IntegrationPublic.of(integration)


@router.get("", response_model=list[IntegrationPublic])
def list_integrations(runtime: RuntimeDep, principal: AdminKey) -> list[IntegrationPublic]:
    return [IntegrationPublic.of(i) for i in runtime.integrations.list_for_tenant(principal.tenant)]


@router.get("/{integration_id}", response_model=IntegrationPublic)
def get_integration(integration_id: str, runtime: RuntimeDep, principal: AdminKey) -> IntegrationPublic:
    return IntegrationPublic.of(_owned(runtime, principal.tenant, integration_id))


@router.put("/{integration_id}/secrets", response_model=IntegrationPublic)
def rotate_secrets(
    integration_id: str, body: SecretsRotate, runtime: RuntimeDep, principal: AdminKey
) -> IntegrationPublic:
    """Replace the whole secret set; the previous set keeps verifying deliveries for the grace period."""
    integration = runtime.integrations.rotate(
        tenant=principal.tenant,
        integration_id=integration_id,
        secrets=body.secrets,
        actor=principal.key_id,
        grace_hours=body.grace_hours,
    )
    return IntegrationPublic.of(integration)


@router.delete("/{integration_id}", status_code=204)
def delete_integration(integration_id: str, runtime: RuntimeDep, principal: AdminKey) -> None:
    runtime.integrations.delete(
        tenant=principal.tenant, integration_id=integration_id, actor=principal.key_id
    )


def _owned(runtime: Runtime, tenant: str, integration_id: str) -> Integration:
    integration = runtime.integrations.get_for_tenant(tenant, integration_id)
    if integration is None:
        raise NotFoundError(f"integration {integration_id} not found")
    return integration
