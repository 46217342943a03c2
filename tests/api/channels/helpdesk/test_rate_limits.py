"""Helpdesk deliveries a minute per integration: 429 with Retry-After past it, nothing accepted; only
signed deliveries count, so a stranger who knows the URL cannot spend the helpdesk's minute."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from api.deliveries import Delivery
from tests.api.channels.helpdesk import signing
from tests.api.channels.helpdesk.conftest import SECRETS, register
from tests.api.channels.helpdesk.fake_helpdesk import FakeHelpdesk
from tests.conftest import make_client


def post(client: Any, integration_id: str, ticket: int, secret: str | None = None) -> Any:
    body = signing.zendesk_ticket(ticket, "Where is my order?")
    raw, headers = signing.zendesk(secret or SECRETS["zendesk"]["signing_secret"], body)
    return client.post(f"/v1/webhooks/zendesk/{integration_id}", content=raw, headers=headers)


def test_deliveries_past_the_integrations_minute_answer_429(
    hd_settings: Any, seeded_engine: Any, fake: FakeHelpdesk
) -> None:
    limited = hd_settings.model_copy(update={"integration_rate_limit_per_minute": 2})
    with make_client(limited, seeded_engine) as client:
        first, other = register(client, "zendesk", fake), register(client, "zendesk", fake)
        forged = [post(client, first, 900 + n, secret="not-the-secret").status_code for n in range(3)]
        accepted = [post(client, first, 100 + n).status_code for n in range(2)]
        refused = post(client, first, 102)
        elsewhere = post(client, other, 200)
        with Session(seeded_engine) as session:
            stored = list(session.exec(select(Delivery).where(Delivery.integration_id == first)))
    assert forged == [401] * 3
    assert accepted == [202, 202]
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["details"]["scope"] == "integration"
    assert elsewhere.status_code == 202  # each integration has its own minute
    assert len(stored) == 2  # the refused delivery was not accepted: the helpdesk sends it again later
