"""The helpdesk flow on PostgreSQL (127.0.0.1:5432): a delivery, its replay, one note, the customer bound."""

from __future__ import annotations

from typing import Any

from tests.api.channels.helpdesk import signing
from tests.api.channels.helpdesk.conftest import SECRETS, register, settled
from tests.api.channels.helpdesk.fake_helpdesk import FakeHelpdesk
from tests.api.test_postgres import pg_engine, pg_url  # noqa: F401  (fixtures)
from tests.conftest import TODAY, make_client


def test_deliveries_on_postgres(hd_settings: Any, pg_engine: Any, pg_url: str, fake: FakeHelpdesk) -> None:  # noqa: F811
    from tools.demo_data import seed_demo

    seed_demo(pg_engine, tenant="default", today=TODAY)
    settings = hd_settings.model_copy(update={"database_url": pg_url})
    with make_client(settings, pg_engine) as client:
        integration_id = register(client, "zendesk", fake)
        url = f"/v1/webhooks/zendesk/{integration_id}"
        secret = SECRETS["zendesk"]["signing_secret"]
        raw, headers = signing.zendesk(
            secret, signing.zendesk_ticket(12, "Where is my order?", email="dana.w@example.com")
        )
        first = client.post(url, content=raw, headers=headers)
        assert first.status_code == 202
        assert client.post(url, content=raw, headers=headers).json()["duplicate"] is True
        done = settled(pg_engine, first.json()["delivery_id"])
        assert done.status == "done" and len(fake.notes["12"]) == 1
        conversation = client.app.state.runtime.conversations.find(
            tenant="default", channel="zendesk", external_id="zendesk:12"
        )
        assert conversation is not None and conversation.customer_id == "CUS-1001"
