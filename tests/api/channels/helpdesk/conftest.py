"""Fixtures for the helpdesk channel tests: a fake helpdesk, fast job settings, registered integrations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

from api.deliveries import Delivery
from tests.api.channels.helpdesk.fake_helpdesk import FakeHelpdesk
from tests.api.job_handlers import wait_for
from tests.conftest import make_client

SECRETS = {
    "zendesk": {"signing_secret": "zd-signing-secret-0123456789", "api_token": "zd-api-token"},
    "jira": {"webhook_secret": "jira-webhook-secret-0123456789", "api_token": "jira-api-token"},
    "freshdesk": {"token": "fd-shared-token-0123456789", "api_key": "fd-api-key"},
    "generic": {"secret": "generic-secret-0123456789abc"},
}
VERIFY = {"zendesk": "signing_secret", "jira": "webhook_secret", "freshdesk": "token", "generic": "secret"}


def config_for(provider: str, fake: FakeHelpdesk, **extra: Any) -> dict[str, Any]:
    if provider == "generic":
        return {"callback_url": f"{fake.url}/callback", **extra}
    if provider == "freshdesk":
        return {"base_url": fake.url, **extra}
    return {"base_url": fake.url, "email": "agent@acme.example", **extra}


@pytest.fixture
def fake() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as helpdesk:
        yield helpdesk


@pytest.fixture
def hd_settings(settings: Any) -> Any:
    return settings.model_copy(
        update={
            "job_poll_s": 0.05,
            "job_lease_s": 2.0,
            "job_backoff_base_s": 0.05,
            "job_backoff_cap_s": 0.2,
            "helpdesk_timeout_s": 1.0,
        }
    )


@pytest.fixture
def client(hd_settings: Any, seeded_engine: Any) -> Iterator[Any]:
    with make_client(hd_settings, seeded_engine) as test_client:
        yield test_client


def register(client: Any, provider: str, fake: FakeHelpdesk, tenant: str = "default", **config: Any) -> str:
    integration = client.app.state.runtime.integrations.create(
        tenant=tenant,
        provider=provider,
        config=config_for(provider, fake, **config),
        secrets=SECRETS[provider],
        actor="key_admin",
    )
    return str(integration.id)


def delivery(engine: Any, delivery_id: str) -> Delivery:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Delivery, delivery_id)
    assert row is not None
    return row


def settled(engine: Any, delivery_id: str, within_s: float = 60.0) -> Delivery:
    """The delivery once its job has finished with it (done, dropped or failed)."""
    return wait_for(
        lambda: (row := delivery(engine, delivery_id)).status in ("done", "dropped", "failed") and row,
        within_s=within_s,
    )
