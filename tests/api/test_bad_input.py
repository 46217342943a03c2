"""Bad input gets a 4xx with a JSON body saying what is wrong; never a 500, never a lost turn."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import bearer, make_client


@pytest.fixture
def client(settings: Any, seeded_engine: Any) -> Any:
    with make_client(settings, seeded_engine) as client:
        yield client


@pytest.fixture
def headers(seeded_engine: Any) -> dict[str, str]:
    return bearer(seeded_engine, "default", ("agent",))


@pytest.fixture
def conversation(client: Any, headers: dict[str, str]) -> str:
    return str(
        client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers).json()["id"]
    )


def assert_error(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert "error" in body and body["error"]["message"]
    for word in words:
        assert word in body["error"]["message"]


@pytest.mark.parametrize("content", ["", "   \n"])
def test_empty_content(client: Any, headers: dict[str, str], conversation: str, content: str) -> None:
    response = client.post(
        f"/v1/conversations/{conversation}/messages", json={"content": content}, headers=headers
    )
    assert_error(response, 422, "content")


def test_unknown_conversation(client: Any, headers: dict[str, str]) -> None:
    response = client.post("/v1/conversations/conv_nope/messages", json={"content": "hi"}, headers=headers)
    assert_error(response, 404, "conv_nope")


def test_one_megabyte_message(client: Any, headers: dict[str, str], conversation: str) -> None:
    response = client.post(
        f"/v1/conversations/{conversation}/messages", json={"content": "a" * 1_000_000}, headers=headers
    )
    assert_error(response, 413, "limit")


@pytest.mark.parametrize("auth", [None, "Bearer dp_wrong", "Basic abc", "Bearer "])
def test_wrong_key(client: Any, conversation: str, auth: str | None) -> None:
    response = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": "hi"},
        headers={"Authorization": auth} if auth else {},
    )
    assert_error(response, 401)


def test_malformed_json(client: Any, headers: dict[str, str], conversation: str) -> None:
    response = client.post(
        f"/v1/conversations/{conversation}/messages",
        content=b'{"content": "hi"',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_error(response, 422)


def test_unknown_field_and_wrong_types(client: Any, headers: dict[str, str], conversation: str) -> None:
    assert_error(
        client.post(f"/v1/conversations/{conversation}/messages", json={"content": 5}, headers=headers),
        422,
        "content",
    )
    assert_error(
        client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"content": "hi", "tenant": "acme"},
            headers=headers,
        ),
        422,
        "tenant",
    )


def test_customer_mismatch_and_unknown_customer(
    client: Any, headers: dict[str, str], conversation: str
) -> None:
    assert_error(
        client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"content": "hi", "customer_id": "CUS-1002"},
            headers=headers,
        ),
        400,
        "customer",
    )
    assert_error(client.post("/v1/conversations", json={"customer_id": "CUS-99999"}, headers=headers), 404)


def test_admin_only_routes_refuse_agent_keys(client: Any, headers: dict[str, str]) -> None:
    assert_error(client.get("/v1/audit", headers=headers), 403, "admin")


def test_failed_auth_is_audited(client: Any, seeded_engine: Any) -> None:
    from api.audit import AuditLog

    client.get("/v1/customers", headers={"Authorization": "Bearer dp_wrong"})
    events = AuditLog(seeded_engine).list(tenant="_system")
    assert events and events[0].type == "auth.failed" and "dp_wrong" not in str(events[0].payload)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/audit?before_seq=13910650768887067615813765513386917888",
        "/v1/customers?offset=13910650768887067615813765513386917888",
        "/v1/audit?limit=0",
        "/v1/usage?group_by=week",
    ],
)
def test_out_of_range_numbers_are_refused_not_crashed(client: Any, seeded_engine: Any, path: str) -> None:
    # Found by schemathesis: integers beyond SQLite's 64 bits used to reach the database and fail there.
    response = client.get(path, headers=bearer(seeded_engine, "default", ("agent", "admin")))
    assert_error(response, 422)
