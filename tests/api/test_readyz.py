"""/readyz tells the truth: 503 with the database or a Chroma server down, 200 (degraded) with Redis down or
the primary model's breaker open, and ready again once the dependency is back."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from api.db import make_engine
from tests.conftest import make_client, online


def test_ready_with_every_dependency_up(settings: Any, seeded_engine: Any, demo_knowledge: Any) -> None:
    with make_client(settings, seeded_engine) as client:
        assert client.get("/readyz").json()["checks"]["knowledge"] == "disabled"
    with make_client(settings, seeded_engine, knowledge=demo_knowledge) as client:  # embedded Chroma
        ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"] == {
        "database": "ok",
        "knowledge": "ok",
        "jobs": "in_process",
        "model": "offline",
    }
    assert body["models"] == [{"name": "deskpilot-offline", "breaker": "closed"}]


def test_not_ready_while_the_sqlite_database_is_gone(settings: Any, seeded_engine: Any) -> None:
    home: Path = settings.home
    with make_client(settings, seeded_engine) as client:
        assert client.get("/readyz").status_code == 200
        seeded_engine.dispose()  # pooled connections would keep the old file open
        moved = home.with_name("home-moved-away")
        home.rename(moved)
        try:
            down = client.get("/readyz")
        finally:
            moved.rename(home)
        assert down.status_code == 503
        assert down.json()["status"] == "not_ready"
        assert down.json()["checks"]["database"] == "error: OperationalError"
        assert client.get("/readyz").status_code == 200  # back


def test_not_ready_when_postgresql_is_unreachable(settings: Any, seeded_engine: Any) -> None:
    with make_client(settings, seeded_engine) as client:
        runtime = client.app.state.runtime
        working = runtime.engine
        runtime.engine = make_engine(
            f"postgresql://postgres@127.0.0.1:{_free_port()}/deskpilot"
        )  # nothing listens
        try:
            down = client.get("/readyz")
        finally:
            runtime.engine.dispose()
            runtime.engine = working
    assert down.status_code == 503
    assert down.json()["checks"]["database"] == "error: OperationalError"


def test_not_ready_when_the_chroma_server_stops(settings: Any, seeded_engine: Any, tmp_path: Path) -> None:
    from knowledge import open_knowledge_base

    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = _free_port()
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                kb = open_knowledge_base(
                    chroma_path=tmp_path / "unused",
                    chroma_url=f"http://127.0.0.1:{port}",
                    models_dir=settings.models_dir,
                )
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        with make_client(settings, seeded_engine, knowledge=kb) as client:
            up = client.get("/readyz")
            assert up.status_code == 200 and up.json()["checks"]["knowledge"] == "ok"
            server.terminate()
            server.wait(timeout=10)
            down = client.get("/readyz")
            assert down.status_code == 503, down.text
            assert down.json()["checks"]["knowledge"].startswith("error: ")
            assert down.json()["checks"]["database"] == "ok"
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


def test_redis_down_or_an_open_breaker_degrade_without_failing_readiness(
    settings: Any, seeded_engine: Any, openai_stub: Any
) -> None:
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        runtime = client.app.state.runtime
        body = client.get("/readyz").json()
        assert body["checks"]["model"] == "ok" and body["degraded"] is False
        assert body["models"] == [
            {"name": "gpt-4o", "breaker": "closed"},
            {"name": "deskpilot-offline", "breaker": "closed"},
        ]
        for _ in range(runtime.settings.breaker_failure_threshold):
            runtime.model.links[0].breaker.record_failure()
        opened = client.get("/readyz")
        assert opened.status_code == 200 and opened.json()["degraded"] is True
        assert opened.json()["checks"]["model"] == (
            "degraded: gpt-4o breaker open, answering with deskpilot-offline"
        )

        real = runtime.settings
        runtime.settings = real.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
        try:
            assert client.get("/readyz").json()["checks"]["jobs"] == "ok"
            runtime.settings = real.model_copy(update={"redis_url": f"redis://127.0.0.1:{_free_port()}/0"})
            lost = client.get("/readyz")
        finally:
            runtime.settings = real
    assert lost.status_code == 200  # jobs stay in the table and the poll runs them
    assert lost.json()["checks"]["jobs"].startswith("error: ") and lost.json()["degraded"] is True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
