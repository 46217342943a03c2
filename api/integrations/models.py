"""The integrations table and its request/response bodies: config in the clear, secrets only sealed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from api.integrations.providers import PROVIDERS, ProviderName
from api.models import new_id, utcnow

SecretValues = dict[str, SecretStr]  # SecretStr: a request body that ends up in a repr or a log shows ***


def _fields(kind: str) -> str:
    return "; ".join(
        f"{name}: {', '.join(getattr(spec, kind).model_fields)}" for name, spec in PROVIDERS.items()
    )


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: ProviderName
    config: dict[str, Any] = Field(
        default_factory=dict, description=f"The provider's settings, not secret ({_fields('config')})."
    )
    secrets: SecretValues = Field(
        default_factory=dict,
        max_length=20,
        description=f"Sealed at rest; never returned, logged or audited ({_fields('secrets')}).",
    )


class SecretsRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secrets: SecretValues = Field(max_length=20, description="The whole new set of the provider's secrets.")
    grace_hours: float | None = Field(
        default=None,
        ge=0,
        le=720,
        description="How long the previous set stays valid for verifying deliveries (default: the setting).",
    )


class Integration(SQLModel, table=True):
    """A tenant's connection to one helpdesk or Slack app. Deliveries find it by id alone."""

    __tablename__ = "integrations"

    id: str = Field(default_factory=lambda: new_id("int"), primary_key=True)
    tenant: str = Field(index=True, max_length=64)
    provider: str = Field(max_length=32)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    secret_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sealed_secrets: str = Field(repr=False)  # Fernet token (api.integrations.crypto)
    sealed_previous: str | None = Field(default=None, repr=False)  # the set before the last rotation
    previous_valid_until: datetime | None = None  # the end of that set's grace period
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    rotated_at: datetime | None = None


class IntegrationPublic(BaseModel):
    id: str
    provider: str
    inbound_url: str = Field(description="Path to give the provider as its webhook or request URL.")
    config: dict[str, Any]
    secret_names: list[str]
    created_at: datetime
    rotated_at: datetime | None
    previous_secrets_valid_until: datetime | None

    @classmethod
    def of(cls, integration: Integration) -> IntegrationPublic:
        return cls(
            id=integration.id,
            provider=integration.provider,
            inbound_url=PROVIDERS[integration.provider].inbound_url(integration.id),
            config=integration.config,
            secret_names=integration.secret_names,
            created_at=integration.created_at,
            rotated_at=integration.rotated_at,
            previous_secrets_valid_until=integration.previous_valid_until,
        )
