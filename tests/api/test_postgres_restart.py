"""PostgreSQL restarted under turns: every answer is a 200 or a 503 JSON (never a 500), and the service
answers again by itself. Runs on a private cluster (bench.soak.Postgres) so the shared server is never
restarted."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TODAY, bearer

pytestmark = pytest.mark.postgres


@pytest.fixture
def private_pg() -> Any:
    from bench.soak import PG_BIN, Postgres

    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN}")
    # Not under pytest's tmp_path: the postgres user must be able to reach the data directory.
    root = Path(tempfile.mkdtemp(prefix="deskpilot-pg-"))
    pg = Postgres(root).start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_turns_while_postgres_restarts_answer_503_never_500(settings: Any, private_pg: Any) -> None:
    from api.db import create_schema, make_engine
    from api.main import create_app
    from tools.demo_data import seed_demo

    engine = make_engine(f"{private_pg.url}/postgres")
    create_schema(engine)
    seed_demo(engine, tenant="default", today=TODAY)
    headers = bearer(engine, "default", ("agent", "admin"))
    url = engine.url.render_as_string(hide_password=False)
    app = create_app(
        settings.model_copy(update={"database_url": url, "tenant_concurrent_turns": 0}),
        engine=engine,
        redactor=None,
        knowledge=None,
    )
    statuses: Counter[int] = Counter()
    bodies: list[str] = []

    async def converse(client: httpx.AsyncClient, until: float) -> None:
        conversation = None
        while time.monotonic() < until:
            if conversation is None:
                created = await client.post("/v1/conversations", json={"customer_id": "CUS-1001"},
                                            headers=headers)
                statuses[created.status_code] += 1
                if created.status_code == 201:
                    conversation = created.json()["id"]
                else:
                    bodies.append(created.text)
                    await asyncio.sleep(0.05)
                continue
            reply = await client.post(f"/v1/conversations/{conversation}/messages",
                                      json={"content": "How long does a refund take?"}, headers=headers)
            statuses[reply.status_code] += 1
            if reply.status_code != 200:
                bodies.append(reply.text)
                assert reply.headers["content-type"].startswith("application/json")
                await asyncio.sleep(0.05)

    async def scenario() -> float | None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
                until = time.monotonic() + 8
                traffic = asyncio.gather(*(converse(client, until) for _ in range(8)))
                await asyncio.sleep(2)
                await asyncio.to_thread(private_pg.restart)
                await traffic
                # Back by itself: a new conversation gets a reply.
                started = time.monotonic()
                while time.monotonic() - started < 30:
                    created = await client.post("/v1/conversations", json={"customer_id": "CUS-1001"},
                                                headers=headers)
                    if created.status_code == 201:
                        reply = await client.post(f"/v1/conversations/{created.json()['id']}/messages",
                                                  json={"content": "How long does a refund take?"},
                                                  headers=headers)
                        if reply.status_code == 200:
                            return time.monotonic() - started
                    await asyncio.sleep(0.5)
                return None

    try:
        back = asyncio.run(scenario())
    finally:
        engine.dispose()
    server_errors = {code: n for code, n in statuses.items() if code >= 500 and code != 503}
    assert not server_errors, (dict(statuses), [b for b in bodies if "internal_error" in b][:3])
    assert statuses[503] > 0, dict(statuses)  # the restart did land under the traffic
    assert back is not None, dict(statuses)
