"""The providers an integration can be registered for: each one's config, secrets and inbound URL."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

ProviderName = Literal["zendesk", "jira", "freshdesk", "generic", "slack"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://example.com")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; they belong in the secrets")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address")
    return value


def _secret(min_length: int) -> Callable[[SecretStr], SecretStr]:
    def check(value: SecretStr) -> SecretStr:
        length = len(value.get_secret_value())
        if not min_length <= length <= 1000:
            raise ValueError(f"must be {min_length} to 1000 characters")
        return value

    return check


# URLs the channels call: stored without a trailing slash so `f"{base_url}/api/v2/..."` is right.
BaseUrl = Annotated[
    str, Field(max_length=2000), AfterValidator(_web_url), AfterValidator(lambda v: v.rstrip("/"))
]
WebUrl = Annotated[str, Field(max_length=2000), AfterValidator(_web_url)]
Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
# A secret that authenticates deliveries to us (an HMAC key or a shared token): long enough not to guess.
VerifySecret = Annotated[SecretStr, AfterValidator(_secret(16))]
# A credential for calling the provider's API, in whatever form the provider issues it.
ApiCredential = Annotated[SecretStr, AfterValidator(_secret(1))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


# --- ticketing (issue 10) ------------------------------------------------------------------------------


class ZendeskConfig(_Strict):
    base_url: BaseUrl = Field(description="https://<subdomain>.zendesk.com")
    email: Email = Field(description="The agent the API token belongs to (Basic auth `{email}/token`).")
    set_priority: bool = Field(default=False, description="Set the ticket's priority from triage.")
    set_group: bool = Field(default=False, description="Set the ticket's group from triage.")


class ZendeskSecrets(_Strict):
    signing_secret: VerifySecret
    api_token: ApiCredential


class JiraConfig(_Strict):
    base_url: BaseUrl = Field(description="https://<site>.atlassian.net")
    email: Email


class JiraSecrets(_Strict):
    webhook_secret: VerifySecret
    api_token: ApiCredential


class FreshdeskConfig(_Strict):
    base_url: BaseUrl = Field(description="https://<domain>.freshdesk.com")


class FreshdeskSecrets(_Strict):
    token: VerifySecret = Field(description="Sent by the webhook in its X-Deskpilot-Token header.")
    api_key: ApiCredential


class GenericConfig(_Strict):
    callback_url: WebUrl = Field(description="Where results are POSTed, signed like the deliveries.")


class GenericSecrets(_Strict):
    secret: VerifySecret


# --- Slack (issue 11) ----------------------------------------------------------------------------------


class SlackConfig(_Strict):
    api_base_url: WebUrl = Field(
        default="https://slack.com/api/", description="The Web API; tests and gateways point it elsewhere."
    )
    approver_user_ids: list[Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,31}$")]] = Field(
        max_length=500, description="Slack user ids whose button clicks decide approvals."
    )
    mode: Literal["assist", "alerts_only"] = "assist"
    alerts_channel: str | None = Field(
        default=None,
        pattern=r"^\S{1,80}$",
        validate_default=True,  # so alerts_only without a channel is caught
        description="Channel id or #name for handoffs and approvals.",
    )

    @field_validator("api_base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"  # slack_sdk joins method names onto it

    @field_validator("alerts_channel", mode="after")
    @classmethod
    def _channel_for_alerts(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("mode") == "alerts_only":
            raise ValueError("is required when mode is alerts_only")
        return value


class SlackSecrets(_Strict):
    signing_secret: VerifySecret
    bot_token: ApiCredential


# --- the registry --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderSpec:
    """What registering one provider takes, and where its deliveries arrive."""

    name: ProviderName
    config: type[BaseModel]
    secrets: type[BaseModel]
    inbound_path: str  # `{id}` is the integration id

    def inbound_url(self, integration_id: str) -> str:
        return self.inbound_path.format(id=integration_id)

    @property
    def secret_names(self) -> list[str]:
        return list(self.secrets.model_fields)


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec("zendesk", ZendeskConfig, ZendeskSecrets, "/v1/webhooks/zendesk/{id}"),
        ProviderSpec("jira", JiraConfig, JiraSecrets, "/v1/webhooks/jira/{id}"),
        ProviderSpec("freshdesk", FreshdeskConfig, FreshdeskSecrets, "/v1/webhooks/freshdesk/{id}"),
        ProviderSpec("generic", GenericConfig, GenericSecrets, "/v1/webhooks/generic/{id}"),
        ProviderSpec("slack", SlackConfig, SlackSecrets, "/v1/slack/{id}/events"),
    )
}
PROVIDER_NAMES: tuple[str, ...] = get_args(ProviderName)


def unwrap(secrets: BaseModel) -> dict[str, str]:
    """A validated secrets model as plain strings (only for sealing)."""
    values: dict[str, Any] = dict(secrets)
    return {name: value.get_secret_value() for name, value in values.items()}
