"""The integrations registry: admins register, rotate and remove; channels read config and secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.audit import AuditLog
from api.errors import InvalidInput, NotFoundError
from api.integrations.crypto import SecretBox
from api.integrations.models import Integration
from api.integrations.providers import PROVIDER_NAMES, PROVIDERS, ProviderSpec, unwrap
from api.models import new_id, utcnow

log = logging.getLogger(__name__)


class IntegrationService:
    """Admin side (tenant from the caller's key): `create`, `list_for_tenant`, `get_for_tenant`, `rotate`,
    `delete`. Channel side (an inbound delivery knows only the id in its URL): `get`, then `config`,
    `secrets` and `verification_secrets`, acting for `integration.tenant` and no other.

    Secret values leave only through `secrets` and `verification_secrets`; audit events and log lines
    name the secrets, never their values.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        audit: AuditLog,
        box: SecretBox,
        grace_hours: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._box = box
        self.grace = timedelta(hours=grace_hours)  # default grace period of a rotation's previous secrets
        self.clock = clock  # tests move time forward by replacing it

    # --- admin side ----------------------------------------------------------------------------------

    def create(
        self,
        *,
        tenant: str,
        provider: str,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        actor: str | None,
    ) -> Integration:
        """Validates config and secrets against the provider's models (InvalidInput names the field)."""
        spec = _spec(provider)
        valid_config, valid = _validate(
            (spec.config, config, "config"), (spec.secrets, _conceal(secrets), "secrets")
        )
        valid_secrets = unwrap(valid)
        integration_id = new_id("int")
        integration = Integration(
            id=integration_id,
            tenant=tenant,
            provider=spec.name,
            config=valid_config.model_dump(mode="json"),
            secret_names=sorted(valid_secrets),
            sealed_secrets=self._box.seal(integration_id, valid_secrets),
            created_by=actor,
            created_at=self.clock(),
        )
        with self._audit.lock, Session(self._engine, expire_on_commit=False) as session:
            session.add(integration)
            self._record(session, integration, "integration.created", actor)
            session.commit()
        log.info("integration %s (%s) registered for tenant %s", integration.id, spec.name, tenant)
        return integration

    def list_for_tenant(self, tenant: str) -> list[Integration]:
        with Session(self._engine, expire_on_commit=False) as session:
            query = select(Integration).where(Integration.tenant == tenant)
            return list(session.exec(query.order_by(col(Integration.created_at), col(Integration.id))))

    def get_for_tenant(self, tenant: str, integration_id: str) -> Integration | None:
        """The integration when it belongs to `tenant`; another tenant's id is None, as if absent."""
        integration = self.get(integration_id)
        return integration if integration is not None and integration.tenant == tenant else None

    def rotate(
        self,
        *,
        tenant: str,
        integration_id: str,
        secrets: Mapping[str, Any],
        actor: str | None,
        grace_hours: float | None = None,
    ) -> Integration:
        """Makes `secrets` (a whole new set) current. The set it replaces still verifies deliveries for
        `grace_hours` (default: the service's grace), so a provider switched over later loses nothing.
        Only one previous set is kept: rotating again within the grace period drops the oldest."""
        grace = self.grace if grace_hours is None else timedelta(hours=grace_hours)
        with self._audit.lock, Session(self._engine, expire_on_commit=False) as session:
            integration = session.get(Integration, integration_id, with_for_update=True)
            if integration is None or integration.tenant != tenant:
                raise NotFoundError(f"integration {integration_id} not found")
            spec = PROVIDERS[integration.provider]
            (valid,) = _validate((spec.secrets, _conceal(secrets), "secrets"))
            valid_secrets = unwrap(valid)
            now = self.clock()
            keep_previous = grace > timedelta(0)
            integration.sealed_previous = integration.sealed_secrets if keep_previous else None
            integration.previous_valid_until = now + grace if keep_previous else None
            integration.sealed_secrets = self._box.seal(integration.id, valid_secrets)
            integration.secret_names = sorted(valid_secrets)
            integration.rotated_at = now
            session.add(integration)
            self._record(
                session,
                integration,
                "integration.secrets_rotated",
                actor,
                previous_valid_until=integration.previous_valid_until,
            )
            session.commit()
        log.info("integration %s: secrets rotated (grace %s)", integration_id, grace)
        return integration

    def delete(self, *, tenant: str, integration_id: str, actor: str | None) -> None:
        """Removes the integration and its secrets; its inbound URL answers 404 from then on."""
        with self._audit.lock, Session(self._engine) as session:
            integration = session.get(Integration, integration_id)
            if integration is None or integration.tenant != tenant:
                raise NotFoundError(f"integration {integration_id} not found")
            session.delete(integration)
            self._record(session, integration, "integration.deleted", actor)
            session.commit()
        log.info("integration %s removed from tenant %s", integration_id, tenant)

    # --- channel side --------------------------------------------------------------------------------

    def get(self, integration_id: str) -> Integration | None:
        """Any tenant's integration by id, for inbound deliveries; act for `integration.tenant` only."""
        with Session(self._engine, expire_on_commit=False) as session:
            return session.get(Integration, integration_id)

    def secrets(self, integration: Integration) -> dict[str, str]:
        """The current secrets, decrypted (raises SecretsUnreadable under another vault key)."""
        return self._box.open(integration.id, integration.sealed_secrets)

    def verification_secrets(self, integration: Integration, name: str) -> list[str]:
        """Every value of secret `name` that may verify a delivery now: the current one first, then the
        previous one while its grace period lasts. Raises KeyError for a name the provider does not have."""
        values = [self.secrets(integration)[name]]
        until = integration.previous_valid_until
        if integration.sealed_previous and until is not None and self.clock() < until:
            previous = self._box.open(integration.id, integration.sealed_previous).get(name)
            if previous is not None and previous not in values:
                values.append(previous)
        return values

    def config(self, integration: Integration) -> BaseModel:
        """The provider's config model (e.g. ZendeskConfig), validated, with its defaults filled in."""
        return PROVIDERS[integration.provider].config.model_validate(integration.config)

    # --- helpers -------------------------------------------------------------------------------------

    def _record(
        self, session: Session, integration: Integration, type: str, actor: str | None, **extra: Any
    ) -> None:
        # Names only: the values never enter the hash chain.
        payload = {
            "integration_id": integration.id,
            "provider": integration.provider,
            "secret_names": integration.secret_names,
            **extra,
        }
        self._audit.append(session, tenant=integration.tenant, type=type, actor=actor, payload=payload)


def _spec(provider: str) -> ProviderSpec:
    spec = PROVIDERS.get(provider)
    if spec is None:
        message = f"provider: unknown provider; one of {', '.join(PROVIDER_NAMES)}"
        raise InvalidInput(message, problems=[{"field": "provider", "problem": message}])
    return spec


def _conceal(secrets: Mapping[str, Any]) -> dict[str, Any]:
    # As SecretStr, a value cannot show up in a validation error's text or a repr.
    return {name: SecretStr(value) if isinstance(value, str) else value for name, value in secrets.items()}


def _validate(*parts: tuple[type[BaseModel], Mapping[str, Any], str]) -> list[BaseModel]:
    """Each (model, data, field prefix) validated; one InvalidInput naming every bad field (never a value)."""
    valid, problems = [], []
    for model, data, prefix in parts:
        try:
            valid.append(model.model_validate(dict(data)))
        except ValidationError as error:
            problems += [
                {"field": ".".join([prefix, *(str(part) for part in e["loc"])]), "problem": e["msg"]}
                for e in error.errors(include_input=False, include_url=False)
            ]
    if problems:
        message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise InvalidInput(message, problems=problems)
    return valid
