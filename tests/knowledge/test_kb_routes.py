"""HTTP routes of the knowledge base: upload/list/delete (admin), search (any key), JSON errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from kb_support import make_pdf

from api.auth import Principal
from api.deps import get_knowledge_base, get_principal
from api.errors import install_error_handlers
from api.routes import knowledge as routes


def _principal_from_headers(request: Request) -> Principal:
    """Stands in for bearer-key authentication: tenant and scopes come from test headers."""
    scopes = request.headers.get("x-test-scopes", "admin").split(",")
    return Principal(tenant=request.headers["x-test-tenant"], key_id="test-key", scopes=frozenset(scopes))


@pytest.fixture
def client(kb: Any, tenant: str) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(routes.router)
    app.dependency_overrides[get_knowledge_base] = lambda: kb
    app.dependency_overrides[get_principal] = _principal_from_headers
    with TestClient(app, headers={"x-test-tenant": tenant}) as test_client:
        yield test_client


AGENT = {"x-test-scopes": "agent"}
ARTICLE = (
    b"# Gift Cards\n\n## Expiry\n\nNorthbeam gift cards never expire.\n\n## Refunds\n\nThey are final sale."
)


def _upload(client: TestClient, name: str, content: bytes, **kw: Any) -> Any:
    return client.post("/v1/knowledge/documents", files={"file": (name, content)}, **kw)


def test_upload_list_search_delete_round_trip(client: TestClient) -> None:
    created = _upload(client, "gift-cards.md", ARTICLE)
    assert created.status_code == 201, created.text
    assert created.json()["chunks_added"] == 2
    [document_id] = created.json()["document_ids"]

    listing = client.get("/v1/knowledge/documents").json()
    assert listing["count"] == 1
    assert listing["documents"][0] | {"ingested_at": None} == {
        "document_id": document_id,
        "title": "Gift Cards",
        "source": "upload://gift-cards.md",
        "chunks": 2,
        "ingested_at": None,
        "external_id": None,
    }

    found = client.get("/v1/knowledge/search", params={"q": "do gift cards expire", "k": 1}, headers=AGENT)
    assert found.status_code == 200
    [passage] = found.json()["passages"]
    assert passage["title"] == "Gift Cards" and passage["section"] == "Expiry"
    assert passage["document_id"] == document_id and passage["chunk_id"].startswith(document_id)
    assert passage["source"] == "upload://gift-cards.md" and passage["flagged"] is False
    assert isinstance(passage["score"], float)

    assert client.delete(f"/v1/knowledge/documents/{document_id}").status_code == 204
    missing = client.delete(f"/v1/knowledge/documents/{document_id}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/v1/knowledge/documents").json() == {"documents": [], "count": 0}


def test_reupload_updates_in_place_and_a_source_url_is_kept(client: TestClient) -> None:
    url = "https://help.northbeam.example/gift-cards"
    first = _upload(client, "gift-cards.md", ARTICLE, data={"source": url}).json()
    second = _upload(
        client,
        "gift-cards.md",
        ARTICLE.replace(b"never expire", b"expire after 5 years"),
        data={"source": url},
    ).json()
    assert (second["chunks_updated"], second["chunks_unchanged"], second["document_ids"]) == (
        1,
        1,
        first["document_ids"],
    )
    passage = client.get("/v1/knowledge/search", params={"q": "gift card expiry"}).json()["passages"][0]
    assert passage["source"] == url


def test_pdf_and_html_uploads(client: TestClient) -> None:
    pdf = _upload(client, "manual.pdf", make_pdf(["Charge the NB-LANT-LED lantern over USB-C."]))
    html = _upload(
        client, "page.html", b"<html><body><h1>Stoves</h1><p>Use NB-STOVE-1B outdoors.</p></body></html>"
    )
    assert pdf.status_code == html.status_code == 201
    titles = {d["title"] for d in client.get("/v1/knowledge/documents").json()["documents"]}
    assert titles == {"Manual", "Stoves"}
    top = client.get("/v1/knowledge/search", params={"q": "NB-LANT-LED"}).json()["passages"][0]
    assert (top["title"], top["section"]) == ("Manual", "Page 1")


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("tool.exe", b"MZ\x90\x00", 415, "unsupported_media_type"),
        ("broken.pdf", b"%PDF-1.4 not really", 422, "invalid_request"),
        ("empty.md", b"", 422, "invalid_request"),
    ],
)
def test_bad_uploads_get_json_errors(
    client: TestClient, name: str, data: bytes, status: int, code: str
) -> None:
    response = _upload(client, name, data)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert name in response.json()["error"]["message"]


def test_oversized_upload_is_413(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "MAX_UPLOAD_BYTES", 1024)
    response = _upload(client, "big.md", b"# Big\n\n" + b"x " * 1024)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


def test_document_management_needs_the_admin_scope(client: TestClient) -> None:
    assert _upload(client, "a.md", ARTICLE, headers=AGENT).status_code == 403
    assert client.get("/v1/knowledge/documents", headers=AGENT).status_code == 403
    assert client.delete("/v1/knowledge/documents/x", headers=AGENT).status_code == 403
    assert (
        client.get(
            "/v1/knowledge/search", params={"q": "x"}, headers={"x-test-scopes": "approve"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "x" * 501}, {"q": "ok", "k": 0}, {"q": "ok", "k": 51}, {"q": "ok", "k": "ten"}],
)
def test_search_parameters_are_validated(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/v1/knowledge/search", params=params)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_tenants_are_isolated_over_http(client: TestClient, tenant: str) -> None:
    _upload(client, "gift-cards.md", ARTICLE)
    other = {"x-test-tenant": f"{tenant}-other"}
    assert (
        client.get("/v1/knowledge/search", params={"q": "gift cards"}, headers=other).json()["passages"] == []
    )
    assert client.get("/v1/knowledge/documents", headers=other).json()["count"] == 0


def test_the_real_app_serves_search_with_bearer_keys(settings: Any, engine: Any, demo_knowledge: Any) -> None:
    from tests.conftest import bearer, make_client

    with make_client(settings, engine, knowledge=demo_knowledge) as app_client:
        headers = bearer(engine, tenant="default", scopes=("agent",))
        response = app_client.get(
            "/v1/knowledge/search", params={"q": "how long do refunds take", "k": 3}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert any(
            Path(p["source"]).name == "refund-status-and-timing.md" for p in response.json()["passages"]
        )
        assert app_client.get("/v1/knowledge/documents", headers=headers).status_code == 403
        assert app_client.get("/v1/knowledge/search", params={"q": "x"}).status_code == 401
