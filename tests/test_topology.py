"""The docker-compose topology as real processes: two `deskpilot serve` and one `deskpilot worker` on the
local PostgreSQL and Redis and a `chroma run` server. No sticky sessions: any request may go to any process.

A local OpenAI-compatible model answers (it can be switched to answering 500); the offline engine takes
over once the breaker is open, which is also how the refund is proposed.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text
from sqlmodel import Session

from api.audit import AuditLog
from api.jobs import JobQueue
from api.settings import Settings
from tests.api import job_handlers
from tests.api.test_approvals import refundable_order, refunds_of
from tests.conftest import REPO, TODAY, bearer
from tests.support.openai_items import Fail, Reply
from tests.support.openai_server import OpenAIStub
from tests.support.processes import ChromaServer
from tests.support.topology import PG_SERVER, REDIS_URL, Topology

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(1200)]


def _reachable() -> str | None:
    try:
        create_engine(
            PG_SERVER.replace("postgresql://", "postgresql+psycopg://") + "/postgres"
        ).connect().close()
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except Exception as error:  # noqa: BLE001
        return f"PostgreSQL or Redis not reachable: {type(error).__name__}"
    return None if ChromaServer.available() else "the chroma CLI is not installed"


class Model:
    """The stub's default answer, switchable between a reply and an HTTP 500."""

    def __init__(self) -> None:
        self.failing = False

    def __call__(self, body: dict[str, Any]) -> Any:
        return Fail(500) if self.failing else Reply("Happy to help with that [1].")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, OpenAIStub, Model]]:
    if reason := _reachable():
        pytest.skip(reason)
    model = Model()
    stub = OpenAIStub(default=model).start()
    env = {
        "PYTHONPATH": str(REPO),  # the worker imports tests.api.job_handlers
        "OPENAI_API_KEY": "sk-test",
        "DESKPILOT_LLM_BASE_URL": stub.base_url,
        "DESKPILOT_FALLBACK_MODELS": "[]",
        "DESKPILOT_LLM_MAX_RETRIES": "0",
        "DESKPILOT_BREAKER_FAILURE_THRESHOLD": "2",
        "DESKPILOT_BREAKER_RESET_S": "600",
        "DESKPILOT_JOB_HANDLERS": '["tests.api.job_handlers"]',
        "DESKPILOT_JOB_POLL_S": "0.5",
        "DESKPILOT_RATE_LIMIT_PER_MINUTE": "0",
        "DESKPILOT_TENANT_RATE_LIMIT_PER_MINUTE": "0",
    }
    topology = Topology(tmp_path_factory.mktemp("topology"), env=env)
    try:
        with topology:
            yield topology, stub, model
    finally:
        stub.stop()


@pytest.fixture(scope="module")
def keys(topology: tuple[Topology, OpenAIStub, Model]) -> dict[str, dict[str, str]]:
    from tools.demo_data import seed_demo

    engine = topology[0].engine
    seed_demo(engine, tenant="default", today=TODAY)
    return {
        "agent": bearer(engine, "default", ("agent", "admin")),
        "approve": bearer(engine, "default", ("approve",)),
    }


def clients(topology: Topology) -> tuple[httpx.Client, httpx.Client]:
    a, b = topology.apps
    return httpx.Client(base_url=a.base_url, timeout=60), httpx.Client(base_url=b.base_url, timeout=60)


def test_a_conversation_started_on_one_process_continues_on_the_other(topology: Any, keys: Any) -> None:
    top, stub, _ = topology
    a, b = clients(top)
    conversation = a.post(
        "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=keys["agent"]
    ).json()["id"]
    first = a.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": "Do you ship tents to Oslo?"},
        headers=keys["agent"],
    )
    assert first.status_code == 200 and not first.json()["degraded"]
    second = b.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": "And how long does it take?"},
        headers=keys["agent"],
    )
    assert second.status_code == 200 and not second.json()["degraded"]
    # B's model request carries A's turn: the checkpoint is shared, not B's own.
    last = stub.chat_requests[-1].json
    texts = [str(m.get("content")) for m in last["messages"]]
    assert any("Oslo" in t for t in texts) and any("Happy to help" in t for t in texts)
    history = a.get(f"/v1/conversations/{conversation}", headers=keys["agent"]).json()
    assert [m["role"] for m in history["messages"]] == ["customer", "assistant", "customer", "assistant"]


def test_a_document_ingested_through_one_process_is_found_on_the_other(topology: Any, keys: Any) -> None:
    a, b = clients(topology[0])
    files = {"file": ("kayaks.md", b"# Kayaks\n\n## Paddles\n\nA cracked KAYAK-PADDLE-31 is replaced free.")}
    assert a.post("/v1/knowledge/documents", files=files, headers=keys["agent"]).status_code == 201
    found = b.get(
        "/v1/knowledge/search", params={"q": "KAYAK-PADDLE-31", "k": 1}, headers=keys["agent"]
    ).json()
    assert [r["title"] for r in found["passages"]] == ["Kayaks"]


def test_a_breaker_opened_on_one_process_is_open_on_the_other(topology: Any, keys: Any) -> None:
    top, stub, model = topology
    a, b = clients(top)
    model.failing = True
    conversation = a.post(
        "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=keys["agent"]
    ).json()["id"]
    for _ in range(2):
        reply = a.post(
            f"/v1/conversations/{conversation}/messages", json={"content": "Hello?"}, headers=keys["agent"]
        )
        assert reply.json()["degraded"]
    ready = b.get("/readyz").json()
    assert ready["models"][0]["breaker"] == "open", ready
    calls = len(stub.chat_requests)
    other = b.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=keys["agent"]).json()["id"]
    reply = b.post(f"/v1/conversations/{other}/messages", json={"content": "Hi there"}, headers=keys["agent"])
    assert reply.json()["degraded"] and len(stub.chat_requests) == calls  # B did not even try the model


def test_an_approval_proposed_on_one_process_is_decided_on_the_other_and_executed_once(
    topology: Any, keys: Any
) -> None:
    top, _, model = topology
    model.failing = True  # the offline engine proposes the refund (the breaker test left it open)
    a, b = clients(top)
    engine = top.engine
    order = refundable_order(engine)
    before = len(refunds_of(engine, order))
    conversation = a.post(
        "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=keys["agent"]
    ).json()["id"]
    proposed = a.post(
        f"/v1/conversations/{conversation}/messages",
        json={"content": f"I want a refund for {order}"},
        headers=keys["agent"],
    ).json()
    approval = proposed["pending_approval"]
    assert approval
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        decisions = list(
            pool.map(
                lambda c: c.post(
                    f"/v1/approvals/{approval}", json={"decision": "approve"}, headers=keys["approve"]
                ),
                [b, a],
            )
        )
    assert sorted(r.status_code for r in decisions) == [200, 200], [r.text for r in decisions]
    assert len(refunds_of(engine, order)) == before + 1
    assert a.get("/v1/audit/verify", headers=keys["agent"]).json()["ok"]


def test_the_worker_runs_a_job_that_either_process_can_see(topology: Any, keys: Any) -> None:
    top = topology[0]
    engine = top.engine
    job_handlers.create_tables(engine)
    settings = Settings(redis_url=top.redis_url, job_stream=top.env["DESKPILOT_JOB_STREAM"])
    queue = JobQueue(engine=engine, settings=settings, audit=AuditLog(engine))
    with Session(engine, expire_on_commit=False) as session:
        job = queue.enqueue(
            session, tenant="default", kind="test.record", payload={"sleep_s": 0, "note": "topo"}
        )
        session.commit()
    a, b = clients(top)
    deadline = time.monotonic() + 120
    while b.get(f"/v1/jobs/{job.id}", headers=keys["agent"]).json()["status"] != "done":
        assert time.monotonic() < deadline, "the worker never ran the job"
        time.sleep(0.3)
    assert a.get(f"/v1/jobs/{job.id}", headers=keys["agent"]).json()["status"] == "done"
    assert job_handlers.effects(engine, job.id) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM checkpoints")).scalar() > 0
