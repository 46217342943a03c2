"""Defects found by an adversarial run, each pinned by a test: slow models, odd dates, nesting, bad bytes."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from fastapi import Request

from tests.conftest import bearer, make_client, online
from tests.support import Hang, Reply, Structured

TRIAGE = {"queue": "billing", "priority": "high", "intent": "payment_issue", "language": "en",
          "sentiment": "negative", "confidence": 0.9}


def hanging(settings: Any, stub: Any, then: Any) -> Any:
    """A model that answers only after 60 s, inside its attempt timeout and its own deadline: only the
    turn's budget can make the caller stop waiting for it."""
    stub.default = Hang(60, then=then)
    return online(settings, stub, llm_timeout_s=90.0, llm_deadline_s=90.0, turn_deadline_s=4.0)


def test_a_hanging_model_still_answers_within_the_turn_deadline(
    settings: Any, openai_stub: Any, seeded_engine: Any
) -> None:
    headers = bearer(seeded_engine)
    with make_client(hanging(settings, openai_stub, Reply("too late")), seeded_engine) as client:
        conversation = client.post(
            "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers
        ).json()["id"]
        response = client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"content": "How long do refunds take?"},
            headers=headers,
        )
        turns = client.get(f"/v1/conversations/{conversation}", headers=headers).json()["turns"]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "deskpilot-offline" and body["degraded"] is True and body["reply"].strip()
    assert [t["status"] for t in turns] == ["done"]
    assert [r.json["model"] for r in openai_stub.chat_requests] == ["gpt-4o"]  # tried, then cut


def test_a_hanging_model_leaves_triage_to_the_offline_classifier(
    settings: Any, openai_stub: Any, engine: Any
) -> None:
    headers = bearer(engine, scopes=("integration",))
    with make_client(hanging(settings, openai_stub, Structured(TRIAGE)), engine) as client:
        response = client.post("/v1/triage", json={"text": "I was charged twice!"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "deskpilot-offline" and response.json()["degraded"] is True
    assert len(openai_stub.chat_requests) == 1


def test_the_turn_budget_skips_network_models_once_spent() -> None:
    import asyncio

    from langchain_core.messages import HumanMessage

    from agent.deadline import deadline
    from agent.llm import build_model_chain

    chain = build_model_chain(
        tools=[], api_key="sk-test", model="gpt-4o", fallback_models=["gpt-4o-mini"],
        base_url="http://127.0.0.1:9/v1", timeout_s=30, max_retries=0, max_tokens=64, temperature=0,
    )

    async def ask() -> Any:
        with deadline(1.0):  # less than the offline reserve: no network model may start
            return await chain.ainvoke([HumanMessage(content="hello")])

    reply = asyncio.run(ask())
    assert reply.response_metadata["deskpilot_model"] == "deskpilot-offline"
    assert reply.response_metadata["fallback_from"] == ["gpt-4o: turn deadline", "gpt-4o-mini: turn deadline"]


@pytest.mark.parametrize("since", ["2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00:00Z"])
def test_usage_since_a_date_without_a_timezone_is_read_as_utc(since: str, settings: Any, engine: Any) -> None:
    from datetime import UTC, datetime

    from sqlmodel import Session

    from api.models import UsageRecord

    with Session(engine) as session:
        for day in (datetime(2025, 12, 31, 23, 30, tzinfo=UTC), datetime(2026, 1, 1, 0, 30, tzinfo=UTC)):
            session.add(UsageRecord(tenant="default", model="gpt-4o", input_tokens=100, created_at=day))
        session.commit()
    with make_client(settings, engine) as client:
        response = client.get("/v1/usage", params={"since": since}, headers=bearer(engine, scopes=("admin",)))
    assert response.status_code == 200, response.text
    [group] = response.json()["groups"]
    assert group["input_tokens"] == 100  # only the record after midnight UTC


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [900, 5_000, 200_000])
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/v1/conversations", '{"customer_id": %s}'),
        ("PUT", "/v1/tenant/settings", '{"brand_name": %s}'),
        ("POST", "/v1/triage", '{"text": %s}'),
        ("POST", "/v1/integrations", '{"provider": "generic", "name": "x", "config": {"a": %s}}'),
        ("POST", "/v1/feedback", '{"conversation_id": "c", "rating": %s}'),
    ],
    ids=["conversations", "tenant-settings", "triage", "integrations", "feedback"],
)
def test_deeply_nested_json_bodies_are_a_client_error(
    method: str, path: str, template: str, depth: int, settings: Any, engine: Any
) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app

    headers = {**bearer(engine, scopes=("agent", "integration", "admin")), "Content-Type": "application/json"}
    app = create_app(settings, engine=engine, redactor=None, knowledge=None)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.request(method, path, content=template % nested(depth), headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] in {"bad_request", "invalid_request"}


def test_a_recursion_error_anywhere_is_a_400_not_a_500() -> None:
    """A route that parses its own body (webhooks, Slack) and meets a nesting Python cannot follow."""
    import json

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, Any]:
        return {"parsed": type(json.loads(await request.body())).__name__}

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/raw", content=nested(200_000))
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "bad_request", "message": "the request is nested too deeply"}


@pytest.fixture(scope="module")
def upload_kb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import sys
    from pathlib import Path

    from knowledge import open_knowledge_base

    return open_knowledge_base(
        chroma_path=tmp_path_factory.mktemp("adversarial-kb"),
        chroma_url=None,
        models_dir=Path(sys.prefix) / "share" / "deskpilot" / "models",
    )


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("deep.html", b"<div>" * 50_000 + b"<p>Deep text.</p>" + b"</div>" * 50_000, 201),
        ("items.html", b"<ul>" + b"<li>item " * 30_000 + b"</ul>", 201),
        ("deep.json", b'{"title": "t", "content": "c", "x": ' + nested(100_000).encode() + b"}", 422),
        ("packed.html", gzip.compress(b"<h1>Returns</h1><p>Within 30 days.</p>" * 50), 415),
        ("packed.md", gzip.compress(b"# Returns\n\nWithin 30 days.\n" * 50), 415),
    ],
    ids=["nested-html", "unclosed-items", "nested-json", "gzip-as-html", "gzip-as-markdown"],
)
def test_hostile_uploads_answer_4xx_or_index_the_text(
    name: str, data: bytes, status: int, settings: Any, engine: Any, upload_kb: Any
) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app

    app = create_app(settings, engine=engine, redactor=None, knowledge=upload_kb)
    headers = bearer(engine, tenant="hostile", scopes=("admin",))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/knowledge/documents", files={"file": (name, data)}, headers=headers)
        listed = client.get("/v1/knowledge/documents", headers=headers).json()["documents"]
    assert response.status_code == status, response.text
    sources = {d["source"] for d in listed}
    assert (f"upload://{name}" in sources) is (status == 201)  # refused bytes are never indexed


def test_the_openapi_document_lists_the_error_answers(settings: Any, engine: Any) -> None:
    with make_client(settings, engine) as client:
        document = client.get("/openapi.json").json()
    assert "ErrorBody" in document["components"]["schemas"]
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    ]
    assert len(operations) > 20
    for path, method, operation in operations:
        codes = set(operation["responses"])
        expected = {"400", "401", "403", "404", "413", "422", "429", "500", "503"}
        if method in ("post", "put", "delete"):
            expected |= {"409", "415"}
        assert expected <= codes, (method, path, sorted(expected - codes))
        for code in expected:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)


def test_an_error_answer_matches_the_documented_error_body(settings: Any, engine: Any) -> None:
    from api.errors import ErrorBody

    with make_client(settings, engine) as client:
        answers = [
            client.get("/v1/usage"),  # 401
            client.get("/v1/usage", headers=bearer(engine)),  # 403
            client.post("/v1/conversations", json={"customer_id": 5}, headers=bearer(engine)),  # 422
            client.get("/v1/conversations/conv_missing", headers=bearer(engine)),  # 404
        ]
    assert [a.status_code for a in answers] == [401, 403, 422, 404]
    for answer in answers:
        ErrorBody.model_validate(answer.json())


SCOPE_LABELS = {
    frozenset({"agent", "integration", "admin"}): "agent",
    frozenset({"admin"}): "admin",
    frozenset({"approve"}): "approve",
    frozenset({"integration", "admin"}): "integration",
    frozenset({"agent", "integration", "admin", "approve"}): "any",
}


def route_scopes(route: Any) -> str:
    """The README label of the scopes a route's dependencies require (none: no key at all)."""
    found: list[frozenset[str]] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        call = dependency.call
        if getattr(call, "__qualname__", "") == "require_scope.<locals>.check":
            names = call.__code__.co_freevars
            found.append(frozenset(call.__closure__[names.index("scopes")].cell_contents))
        pending.extend(dependency.dependencies)
    if not found:
        return "none"
    return SCOPE_LABELS[found[0]]


def readme_scope_rows() -> list[tuple[str, str, str]]:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| `") else []
        if len(cells) < 3 or cells[1] not in {*SCOPE_LABELS.values(), "none"}:
            continue
        for endpoint in re.findall(r"`([A-Z/]+) ([^`]+)`", cells[0].replace("\\|", "|")):
            methods, path = endpoint
            for method in methods.split("/"):
                rows.append((method, re.sub(r"\{[^}]+\}", "{}", path.split("?")[0]), cells[1]))
    return rows


def test_the_readme_scope_table_matches_the_code(settings: Any, engine: Any) -> None:
    import re

    from fastapi.routing import APIRoute, iter_route_contexts

    from api.main import create_app

    app = create_app(settings, engine=engine, redactor=None, knowledge=None)
    routes = {
        (method, re.sub(r"\{[^}]+\}", "{}", context.path)): context.original_route
        for context in iter_route_contexts(app.routes)  # routers are included lazily: their effective routes
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }
    rows = readme_scope_rows()
    assert len(rows) > 25
    mismatches = []
    for method, path, documented in rows:
        # The README names a collection for its item routes too (DELETE /v1/knowledge/documents).
        matches = [r for (m, p), r in routes.items() if m == method and (p == path or p == path + "/{}")]
        assert matches, f"README lists {method} {path}, which the app does not serve"
        actual = {route_scopes(r) for r in matches}
        if actual != {documented}:
            mismatches.append(f"{method} {path}: README says {documented}, code requires {sorted(actual)}")
    assert not mismatches, "\n".join(mismatches)
    documented_paths = {(m, p) for m, p, _ in rows}
    assert ("POST", "/v1/keys/{}/rotate") in documented_paths and ("GET", "/v1/keys") in documented_paths
