"""The cross-tenant battery: tenant A owns one of every resource; tenant B, with every scope, tries to read
and write each by id and looks for it in every list. Returns the violations (empty: none crossed).

Works with any client that has httpx's API (a TestClient, or an httpx.Client on a real process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Owned:
    """Tenant A's resources, by id."""

    conversation: str
    turn: str
    message: int
    approval: str
    document: str | None
    integration: str
    job: str
    counts: dict[str, Any] = field(default_factory=dict)


def make_resources(client: Any, headers: dict[str, str], order: str, enqueue_job: Callable[[], str]) -> Owned:
    """Creates A's resources through the API (the job through `enqueue_job`, as a channel would)."""
    conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers).json()[
        "id"
    ]
    turn = client.post(
        f"/v1/conversations/{conversation}/messages", json={"content": f"Where is {order}?"}, headers=headers
    ).json()
    refund = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": f"I want a refund for {order}"},
        headers=headers,
    ).json()
    assert refund.get("pending_approval"), refund
    files = {"file": ("private.md", b"# Private\n\n## Tenant A\n\nTENANT-A-SECRET-42 is only for tenant A.")}
    uploaded = client.post("/v1/knowledge/documents", files=files, headers=headers)
    document = None
    if uploaded.status_code == 201:
        listed = client.get("/v1/knowledge/documents", headers=headers).json()["documents"]
        document = next(d["document_id"] for d in listed if d["title"] == "Private")
    integration = client.post(
        "/v1/integrations",
        json={
            "provider": "generic",
            "config": {"callback_url": "https://a.example/cb"},
            "secrets": {"secret": "s" * 32},
        },
        headers=headers,
    )
    assert integration.status_code == 201, integration.text
    return Owned(
        conversation=conversation,
        turn=turn["turn_id"],
        message=turn["message_id"],
        approval=refund["pending_approval"],
        document=document,
        integration=integration.json()["id"],
        job=enqueue_job(),
    )


def attack(client: Any, other: dict[str, str], owned: Owned) -> list[str]:
    """Every read and write B can aim at A's resources. A success, a 409 (it found the resource's state) or
    a server error is a violation, and so is a list or search that holds one of A's ids."""
    c, t, a, i, j = owned.conversation, owned.turn, owned.approval, owned.integration, owned.job
    direct: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/v1/conversations/{c}", {}),
        ("GET", f"/v1/conversations/{c}?redacted=true", {}),
        ("POST", f"/v1/conversations/{c}/messages", {"json": {"content": "hello"}}),
        ("POST", f"/v1/conversations/{c}/draft", {}),
        ("POST", f"/v1/conversations/{c}/staff-messages", {"json": {"content": "note", "kind": "note"}}),
        ("POST", f"/v1/conversations/{c}/turns/{t}/retry", {}),
        ("POST", f"/v1/conversations/{c}/handback", {}),
        ("DELETE", f"/v1/conversations/{c}/pii", {}),
        ("POST", f"/v1/conversations/{c}/summary", {}),
        (
            "POST",
            "/v1/feedback",
            {"json": {"conversation_id": c, "message_id": owned.message, "rating": "down"}},
        ),
        ("GET", f"/v1/approvals/{a}", {}),
        ("POST", f"/v1/approvals/{a}", {"json": {"decision": "approve"}}),
        ("POST", f"/v1/approvals/{a}", {"json": {"decision": "reject"}}),
        ("GET", f"/v1/integrations/{i}", {}),
        ("PUT", f"/v1/integrations/{i}/secrets", {"json": {"secrets": {"secret": "x" * 32}}}),
        ("DELETE", f"/v1/integrations/{i}", {}),
        ("GET", f"/v1/jobs/{j}", {}),
        ("POST", f"/v1/jobs/{j}/retry", {}),
    ]
    if owned.document:
        direct.append(("DELETE", f"/v1/knowledge/documents/{owned.document}", {}))
    violations = []
    for method, path, kwargs in direct:
        response = client.request(method, path, headers=other, **kwargs)
        if response.status_code < 400 or response.status_code == 409 or response.status_code >= 500:
            violations.append(f"{method} {path} -> {response.status_code}")
    lists = {
        "/v1/conversations": [c],
        "/v1/approvals": [a],
        "/v1/approvals?status=pending": [a],
        "/v1/audit": [c, t],
        "/v1/usage?group_by=conversation": [c],
        "/v1/integrations": [i],
        "/v1/jobs": [j],
        "/v1/knowledge/documents": [owned.document or "TENANT-A"],
        "/v1/knowledge/search?q=TENANT-A-SECRET-42": ["TENANT-A-SECRET-42", owned.document or "TENANT-A"],
        "/v1/outcomes": [c],
    }
    for path, needles in lists.items():
        response = client.get(path, headers=other)
        if response.status_code >= 500:
            violations.append(f"GET {path} -> {response.status_code}")
        # A search echoes its query: only what it found counts.
        body = (
            str(response.json().get("passages"))
            if "/search" in path and response.status_code == 200
            else response.text
        )
        for needle in needles:
            if needle in body:
                violations.append(f"GET {path} shows tenant A's {needle}")
    verify = client.get("/v1/audit/verify", headers=other)
    if verify.status_code == 200 and c in verify.text:
        violations.append("GET /v1/audit/verify shows tenant A's conversation")
    return violations


def unchanged(client: Any, headers: dict[str, str], owned: Owned, before: dict[str, Any]) -> list[str]:
    """A's resources after B's attack: the same as before it."""
    after = snapshot(client, headers, owned)
    return [
        f"tenant A's {name} changed: {before[name]!r} -> {after[name]!r}"
        for name in before
        if after[name] != before[name]
    ]


def snapshot(client: Any, headers: dict[str, str], owned: Owned) -> dict[str, Any]:
    conversation = client.get(f"/v1/conversations/{owned.conversation}", headers=headers).json()
    return {
        "messages": len(conversation["messages"]),
        "status": conversation.get("status"),
        "approval": client.get(f"/v1/approvals/{owned.approval}", headers=headers).json()["status"],
        "integration": client.get(f"/v1/integrations/{owned.integration}", headers=headers).status_code,
        "job": client.get(f"/v1/jobs/{owned.job}", headers=headers).json()["attempts"],
        "documents": len(client.get("/v1/knowledge/documents", headers=headers).json().get("documents", [])),
    }
