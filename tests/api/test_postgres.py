"""The service on a real PostgreSQL (DESKPILOT_DATABASE_URL): schema, demo store, turns, approvals, audit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.db import create_schema, make_engine
from tests.api.test_approvals import refundable_order, refunds_of
from tests.conftest import TODAY, bearer

SERVER = "postgresql://postgres@127.0.0.1:5432"
pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(pg_engine: Any) -> str:
    return pg_engine.url.render_as_string(hide_password=False)


@pytest.fixture
def pg_engine() -> Iterator[Any]:
    admin = create_engine(
        f"{SERVER.replace('postgresql://', 'postgresql+psycopg://')}/postgres", isolation_level="AUTOCOMMIT"
    )
    name = f"deskpilot_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable at {SERVER}: {type(error).__name__}")
    engine = make_engine(f"{SERVER}/{name}")
    create_schema(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_turns_approvals_and_audit_on_postgres(settings: Any, pg_engine: Any, pg_url: str) -> None:
    from api.main import create_app
    from tools.demo_data import seed_demo

    seed_demo(pg_engine, tenant="default", today=TODAY)
    agent_key = bearer(pg_engine, "default", ("agent", "admin"))
    approvers = [bearer(pg_engine, "default", ("approve",)) for _ in range(2)]
    order = refundable_order(pg_engine)
    before = len(refunds_of(pg_engine, order))
    settings = settings.model_copy(update={"database_url": pg_url})
    app = create_app(settings, engine=pg_engine, redactor=None, knowledge=None)

    async def scenario() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                conversation = (
                    await client.post(
                        "/v1/conversations", json={"customer_id": "CUS-1001"}, headers=agent_key
                    )
                ).json()["id"]
                status = (
                    await client.post(
                        f"/v1/conversations/{conversation}/messages",
                        headers=agent_key,
                        json={"content": f"Where is {order}?"},
                    )
                ).json()
                assert status["tool_calls"][0]["name"] == "lookup_order"
                pending = (
                    await client.post(
                        f"/v1/conversations/{conversation}/messages",
                        headers=agent_key,
                        json={"content": f"I want a refund for {order}"},
                    )
                ).json()
                approval = pending["pending_approval"]
                assert approval
                decisions = await asyncio.gather(
                    *(
                        client.post(f"/v1/approvals/{approval}", json={"decision": "approve"}, headers=h)
                        for h in approvers
                    )
                )
                verify = (await client.get("/v1/audit/verify", headers=agent_key)).json()
                assert verify["ok"], verify
                usage = await client.get("/v1/usage", params={"group_by": "day"}, headers=agent_key)
                assert usage.status_code == 200
                return list(decisions)

    decisions = asyncio.run(scenario())
    assert [r.status_code for r in decisions] == [200, 200]
    assert len(refunds_of(pg_engine, order)) == before + 1
    # The conversation's state was checkpointed in PostgreSQL, not in a local SQLite file.
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM checkpoints")).scalar() > 0
    assert not settings.checkpoint_path.exists()


def test_concurrent_audit_appends_on_postgres(pg_engine: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from api.audit import AuditLog

    # Separate AuditLog objects stand in for separate processes: only the database lock orders them.
    logs = [AuditLog(pg_engine) for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: logs[i % 4].record(tenant="default", type="x", payload={"i": i}), range(60)))
    result = logs[0].verify()
    assert result.ok and result.checked == 60


def test_turns_of_one_conversation_are_serialised_across_processes(
    settings: Any, pg_engine: Any, pg_url: str
) -> None:
    """Two services with their own in-process locks stand in for two app workers behind a load balancer."""
    from langchain_core.messages import AIMessage

    from agent.prompts import is_customer_message
    from api.conversations import ConversationService
    from api.metrics import Metrics
    from api.runtime import open_runtime
    from api.turns import TurnRunner
    from tools.demo_data import seed_demo

    seed_demo(pg_engine, tenant="default", today=TODAY)
    settings = settings.model_copy(update={"database_url": pg_url})

    async def scenario() -> list[str]:
        async with open_runtime(settings, engine=pg_engine, redactor=None, knowledge=None) as runtime:
            first = runtime.conversations
            second = ConversationService(
                engine=pg_engine,
                agent=runtime.agent,
                approvals=runtime.approvals,
                tenants=runtime.tenants,
                audit=runtime.audit,
                turns=TurnRunner(
                    engine=pg_engine, audit=runtime.audit, metrics=Metrics(), deadline_s=60
                ),  # its own in-process locks
            )
            conversation = first.create(tenant="default", customer_id="CUS-1001", channel="api", actor="k")
            await asyncio.gather(
                *(
                    service.send(
                        tenant="default",
                        conversation_id=conversation.id,
                        text=f"question {i}",
                        customer_id=None,
                        actor="k",
                    )
                    for i, service in enumerate([first, second, first, second])
                )
            )
            state = await runtime.agent.graph.aget_state(
                {"configurable": {"thread_id": f"default:{conversation.id}"}}
            )
            return [
                "customer" if is_customer_message(m) else "reply"
                for m in state.values["messages"]
                if is_customer_message(m) or isinstance(m, AIMessage)
            ]

    order = asyncio.run(scenario())
    assert order == ["customer", "reply"] * 4  # never two turns in flight on one timeline
