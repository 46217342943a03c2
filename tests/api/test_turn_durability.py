"""A turn that nothing can lose: a dropped stream and a killed process leave the data whole.

Both tests use real faults: a real socket closed after the first event, a real server process killed
with SIGKILL in the middle of 20 concurrent turns, then restarted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.audit import AuditLog
from api.auth import create_key
from api.db import create_schema, make_engine
from api.main import create_app
from tests.conftest import TODAY, online
from tests.support import Hang, Reply, ToolCalls
from tests.support.processes import ServeProcess, free_port
from tools.backends.sql import SqlStoreBackend
from tools.demo_data import seed_demo


def wait_for(check: Any, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def delivered_order(engine: Any) -> str:
    profile = SqlStoreBackend(engine).customer_profile("default", "CUS-1001")
    assert profile is not None
    return next(o.order_number for o in profile.orders if o.status == "delivered")


class ThreadedServer:
    """The app under uvicorn on a real port, so a client can really drop its connection."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_for(lambda: self.server.started)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def test_a_dropped_stream_leaves_the_turn_to_finish_and_be_stored(
    settings: Any, seeded_engine: Any, openai_stub: Any
) -> None:
    order = delivered_order(seeded_engine)
    openai_stub.enqueue(
        ToolCalls([("lookup_order", {"order_number": order})]),
        Hang(1.5, then=Reply(f"Your order {order} was delivered.")),
    )
    _, secret = create_key(seeded_engine, tenant="default", scopes=["agent"])
    headers = {"Authorization": f"Bearer {secret}"}
    app = create_app(online(settings, openai_stub), engine=seeded_engine, redactor=None, knowledge=None)
    with ThreadedServer(app) as base, httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"}).json()["id"]
        with client.stream(
            "POST",
            f"/v1/conversations/{conversation}/messages",
            json={"content": f"Where is {order}?"},
            headers={"Accept": "text/event-stream"},
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    assert line == "event: tool_call"
                    break  # leaving the block closes the socket mid-turn
        history = wait_for(
            lambda: (
                (h := client.get(f"/v1/conversations/{conversation}").json())["turns"][0]["status"] == "done"
                and h
            )
        )
    assert [m["role"] for m in history["messages"]] == ["customer", "assistant"]
    assert "was delivered" in history["messages"][1]["content"]
    types = Counter(
        e.type for e in AuditLog(seeded_engine).list(tenant="default", conversation_id=conversation)
    )
    assert types["turn.received"] == 1 and types["tool.called"] == 1 and types["reply.sent"] == 1


@pytest.mark.timeout(240)
def test_sigkill_during_concurrent_turns_keeps_every_message_and_retries_finish_them(
    tmp_path: Path, openai_stub: Any
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'deskpilot.db'}")
    create_schema(engine)
    seed_demo(engine, tenant="default", today=TODAY)
    _, secret = create_key(engine, tenant="default", scopes=["agent"])
    headers = {"Authorization": f"Bearer {secret}"}
    env = {
        "DESKPILOT_HOME": str(home),
        "OPENAI_API_KEY": "sk-test",
        "DESKPILOT_LLM_BASE_URL": openai_stub.base_url,
        "DESKPILOT_LLM_MAX_RETRIES": "0",
        "DESKPILOT_FALLBACK_MODELS": "[]",
        "DESKPILOT_RETRIEVAL_K": "0",
        "DESKPILOT_TURN_STALE_AFTER_S": "0",  # one machine: whatever was running when it died is dead
        "ORT_DISABLE_TELEMETRY": "1",
    }
    openai_stub.default = Hang(30, then=Reply("Sorry for the wait."))  # every turn is mid-model at the kill
    texts = [f"Question number {i}: is my parcel coming today?" for i in range(20)]
    server = ServeProcess(env, log=tmp_path / "serve.log").start()
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        conversations = [
            client.post("/v1/conversations", json={"customer_id": "CUS-1001"}).json()["id"] for _ in texts
        ]

    def send(pair: tuple[str, str]) -> int:
        try:
            return httpx.post(
                f"{server.base_url}/v1/conversations/{pair[0]}/messages",
                json={"content": pair[1]},
                headers=headers,
                timeout=60,
            ).status_code
        except httpx.HTTPError:
            return -1  # the server died under the request

    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(send, pair) for pair in zip(conversations, texts, strict=True)]
        audit = AuditLog(engine)
        wait_for(
            lambda: sum(e.type == "turn.received" for e in audit.list(tenant="default", limit=500)) == 20, 60
        )
        wait_for(lambda: len(openai_stub.chat_requests) >= 20, 60)
        server.kill()
        assert all(f.result() == -1 for f in futures)  # nobody got an answer: the kill landed mid-turn

    openai_stub.default = Reply("Sorry for the wait: it arrives today.")
    with (
        ServeProcess(env, port=server.port, log=tmp_path / "serve.log") as restarted,
        httpx.Client(base_url=restarted.base_url, headers=headers, timeout=60) as client,
    ):
        for conversation, text in zip(conversations, texts, strict=True):
            history = client.get(f"/v1/conversations/{conversation}").json()
            assert [(m["role"], m["content"]) for m in history["messages"]] == [("customer", text)]
            (turn,) = history["turns"]
            assert turn["status"] == "failed" and turn["error"] == "interrupted"
            retried = client.post(f"/v1/conversations/{conversation}/turns/{turn['id']}/retry")
            assert retried.status_code == 200, retried.text
            assert "arrives today" in retried.json()["reply"]
            again = client.post(f"/v1/conversations/{conversation}/turns/{turn['id']}/retry")
            assert again.status_code == 409  # a finished turn is not run twice
            after = client.get(f"/v1/conversations/{conversation}").json()
            assert [m["role"] for m in after["messages"]] == ["customer", "assistant"]
    events = AuditLog(engine).list(tenant="default", limit=1000)
    types = Counter(e.type for e in events)
    assert types["turn.received"] == 20 and types["turn.failed"] == 20 and types["reply.sent"] == 20
    assert AuditLog(engine).verify().ok
    assert not any("parcel coming" in json.dumps(e.payload) and e.type == "reply.sent" for e in events)
    engine.dispose()
