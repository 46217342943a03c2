"""A key never sees another tenant's data: 404, not 403."""

from __future__ import annotations

from typing import Any

from tests.conftest import bearer, make_client


def test_tenant_isolation(settings: Any, seeded_engine: Any) -> None:
    default = bearer(seeded_engine, "default", ("agent", "admin"))
    acme = bearer(seeded_engine, "acme", ("agent", "admin"))
    with make_client(settings, seeded_engine) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=default
        ).json()["id"]
        client.post(f"/v1/conversations/{conversation}/messages", json={"content": "hello"}, headers=default)

        assert client.get(f"/v1/conversations/{conversation}", headers=acme).status_code == 404
        assert (
            client.post(
                f"/v1/conversations/{conversation}/messages", json={"content": "hi"}, headers=acme
            ).status_code
            == 404
        )
        assert all(e["conversation_id"] != conversation for e in client.get("/v1/audit", headers=acme).json())

        # The same customer id in another tenant is another shop's customer with other orders.
        mine = {
            o["order_number"] for o in client.get("/v1/customers/CUS-1001", headers=default).json()["orders"]
        }
        theirs = {
            o["order_number"] for o in client.get("/v1/customers/CUS-1001", headers=acme).json()["orders"]
        }
        assert mine != theirs

        # An order that only tenant default has, asked about from an acme conversation, is not found.
        runtime = client.app.state.runtime
        order = next(n for n in sorted(mine) if runtime.backend.get_order("acme", n) is None)
        acme_conv = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=acme).json()[
            "id"
        ]
        reply = client.post(
            f"/v1/conversations/{acme_conv}/messages", json={"content": f"Where is {order}?"}, headers=acme
        ).json()
        assert reply["tool_calls"][0]["status"] == "error"
        assert reply["tool_calls"][0]["result"]["error"] == "not_found"
