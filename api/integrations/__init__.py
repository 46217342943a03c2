"""Channel integrations (Zendesk, Jira, Freshdesk, generic webhooks, Slack): registry, providers, secrets."""

from api.integrations.crypto import SecretBox, SecretsUnreadable
from api.integrations.models import Integration, IntegrationCreate, IntegrationPublic, SecretsRotate
from api.integrations.providers import PROVIDERS, ProviderSpec
from api.integrations.service import IntegrationService

__all__ = [
    "PROVIDERS",
    "Integration",
    "IntegrationCreate",
    "IntegrationPublic",
    "IntegrationService",
    "ProviderSpec",
    "SecretBox",
    "SecretsRotate",
    "SecretsUnreadable",
]
