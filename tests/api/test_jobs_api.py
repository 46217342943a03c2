"""GET /v1/jobs and POST /v1/jobs/{id}/retry: admin only, one tenant's jobs, audited retries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

from tests.api import job_handlers
from tests.api.job_handlers import wait_for
from tests.conftest import bearer, make_client


@pytest.fixture
def client(settings: Any, engine: Any) -> Iterator[Any]:
    job_handlers.create_tables(engine)
    settings = settings.model_copy(update={"job_handlers": ["tests.api.job_handlers"], "job_poll_s": 0.05})
    with make_client(settings, engine) as client:
        yield client


def enqueue(client: Any, engine: Any, tenant: str, kind: str, **payload: Any) -> str:
    with Session(engine) as session:
        job = client.app.state.runtime.jobs.enqueue(session, tenant=tenant, kind=kind, payload=payload)
        job_id: str = job.id
        session.commit()
    return job_id


def test_a_dead_job_is_listed_and_retried_by_an_admin_of_its_tenant(client: Any, engine: Any) -> None:
    admin = bearer(engine, "default", ("admin",))
    job_id = enqueue(client, engine, "default", "test.rejected")
    done_id = enqueue(client, engine, "default", "test.record")
    wait_for(lambda: client.get(f"/v1/jobs/{job_id}", headers=admin).json()["status"] == "dead")
    wait_for(lambda: client.get(f"/v1/jobs/{done_id}", headers=admin).json()["status"] == "done")

    dead = client.get("/v1/jobs", params={"status": "dead"}, headers=admin).json()
    assert [(job["id"], job["kind"], job["attempts"], job["last_error"]) for job in dead] == [
        (job_id, "test.rejected", 1, "upstream answered 400")
    ]
    assert "payload" not in dead[0]  # the payload stays server-side
    assert [job["id"] for job in client.get("/v1/jobs", params={"status": "done"}, headers=admin).json()] == [
        done_id
    ]

    retried = client.post(f"/v1/jobs/{job_id}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) in {
        ("queued", 0),
        ("running", 1),
        ("dead", 1),
    }
    again = wait_for(
        lambda: (
            (job := client.get(f"/v1/jobs/{job_id}", headers=admin).json())["attempts"] == 1
            and job["status"] == "dead"
            and job
        )
    )
    assert again["last_error"] == "upstream answered 400"  # it ran again, and failed the same way

    events = client.get("/v1/audit", params={"type": "job.retried"}, headers=admin).json()
    assert [(event["payload"]["job_id"], event["payload"]["kind"]) for event in events] == [
        (job_id, "test.rejected")
    ]
    assert events[0]["actor"] is not None


def test_only_a_dead_job_can_be_retried(client: Any, engine: Any) -> None:
    admin = bearer(engine, "default", ("admin",))
    job_id = enqueue(client, engine, "default", "test.record")
    wait_for(lambda: client.get(f"/v1/jobs/{job_id}", headers=admin).json()["status"] == "done")
    response = client.post(f"/v1/jobs/{job_id}/retry", headers=admin)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_another_tenants_jobs_are_invisible(client: Any, engine: Any) -> None:
    theirs = bearer(engine, "acme", ("admin",))
    job_id = enqueue(client, engine, "default", "test.rejected")
    wait_for(lambda: client.app.state.runtime.jobs.get(tenant="default", job_id=job_id).status == "dead")
    assert client.get("/v1/jobs", headers=theirs).json() == []
    assert client.get("/v1/jobs", params={"status": "dead"}, headers=theirs).json() == []
    assert client.get(f"/v1/jobs/{job_id}", headers=theirs).status_code == 404
    assert client.post(f"/v1/jobs/{job_id}/retry", headers=theirs).status_code == 404
    assert client.post("/v1/jobs/job_doesnotexist/retry", headers=theirs).status_code == 404
    assert client.app.state.runtime.jobs.get(tenant="default", job_id=job_id).status == "dead"


def test_jobs_need_an_admin_key_and_a_known_status(client: Any, engine: Any) -> None:
    agent = bearer(engine, "default", ("agent", "integration", "approve"))
    admin = bearer(engine, "default", ("admin",))
    assert client.get("/v1/jobs").status_code == 401
    assert client.get("/v1/jobs", headers=agent).status_code == 403
    assert client.post("/v1/jobs/job_x/retry", headers=agent).status_code == 403
    assert client.get("/v1/jobs", params={"status": "lost"}, headers=admin).status_code == 422
