"""A real `deskpilot serve` killed with SIGKILL after acking a Slack mention and before its reply is posted:
restarted, it posts exactly one reply in the thread, and then approves a refund by button once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from api.deliveries import Delivery
from api.runtime import open_runtime
from tests.api.channels.test_slack import APPROVER, click, mention, new_ts, replies_in, signed
from tests.api.job_handlers import wait_for
from tests.api.test_approvals import refundable_order, refunds_of
from tests.conftest import TODAY
from tests.support.slack_server import FakeSlack
from tools.demo_data import seed_demo

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Any, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DESKPILOT_HOME": str(settings.home),
        "DESKPILOT_FORCE_OFFLINE": "true",
        "DESKPILOT_JOB_LEASE_S": "2",
        "DESKPILOT_JOB_POLL_S": "0.2",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "deskpilot"), "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    wait_for(lambda: process.poll() is not None or _healthy(port), within_s=120, every_s=0.2)
    assert process.poll() is None, log.read_text()[-3000:]
    return process


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def delivery_of(engine: Any, integration_id: str) -> Delivery | None:
    with Session(engine) as session:
        return session.exec(select(Delivery).where(Delivery.integration_id == integration_id)).first()


def test_sigkill_after_the_ack_and_before_the_reply_posts_one_reply(
    settings: Any, seeded_engine: Any, slack: FakeSlack, tmp_path: Path
) -> None:
    secret = "sign-" + uuid.uuid4().hex

    async def register() -> str:
        async with open_runtime(settings, engine=seeded_engine, knowledge=None, redactor=None) as runtime:
            integration = runtime.integrations.create(
                tenant="default",
                provider="slack",
                config={"api_base_url": slack.base_url, "approver_user_ids": [APPROVER]},
                secrets={"signing_secret": secret, "bot_token": "xoxb-" + uuid.uuid4().hex},
                actor="test",
            )
            return str(integration.id)

    integration_id = asyncio.run(register())
    order = seed_demo(seeded_engine, tenant="default", today=TODAY).examples["CUS-1001"]["in_transit"]
    slack.hang_next("chat.postMessage")
    port, log, ts = free_port(), tmp_path / "serve.log", new_ts()
    body = mention(f"where is {order}?", ts=ts)

    first = serve(settings, port, log)
    try:
        url = f"http://127.0.0.1:{port}/v1/slack/{integration_id}/events"
        answer = httpx.post(url, content=body, headers=signed(body, secret), timeout=10)
        assert answer.status_code == 200, answer.text
        accepted = delivery_of(seeded_engine, integration_id)
        assert accepted is not None and accepted.job_id  # acked only once the delivery and its job exist
        wait_for(lambda: slack.hung, within_s=120)  # the turn ran; its reply is on the way, and hangs
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    interrupted = delivery_of(seeded_engine, integration_id)
    assert interrupted is not None and interrupted.status == "accepted"
    assert interrupted.result.get("message_id") and interrupted.result.get("reply_ts") == "posting"
    assert replies_in(slack, ts) == []

    second = serve(settings, port, log)
    try:
        wait_for(
            lambda: (d := delivery_of(seeded_engine, integration_id)) and d.status == "done", within_s=120
        )
        time.sleep(1.0)  # a second post, had there been one, would have landed by now
        (reply,) = replies_in(slack, ts)
        assert slack.posted("conversations.replies")  # the restart looked for its marker first
        assert order in reply["text"] and reply["thread_ts"] == ts
        assert "lookup_order" in json.dumps(reply["blocks"])  # the answer used the tools
        done = delivery_of(seeded_engine, integration_id)
        assert done is not None and done.result["message_id"] == interrupted.result["message_id"]

        approve_a_refund_by_button(url, secret, slack, seeded_engine)
    finally:
        second.terminate()
        second.wait(timeout=30)


def approve_a_refund_by_button(url: str, secret: str, slack: FakeSlack, engine: Any) -> None:
    """The same running server: a refund proposed in a thread, approved by an approver's click, once."""
    order, ts = refundable_order(engine), new_ts()
    before = len(refunds_of(engine, order))
    body = mention(f"customer says: I want a refund for {order}, it arrived damaged.", ts=ts)
    assert httpx.post(url, content=body, headers=signed(body, secret), timeout=10).status_code == 200
    posts = wait_for(lambda: len(r := replies_in(slack, ts)) == 2 and r, within_s=60)
    approve = next(b for b in posts[1]["blocks"] if b["type"] == "actions")["elements"][0]
    message = {"ts": posts[1]["_ts"], "channel": posts[1]["channel"], "thread_ts": ts}
    for _ in range(2):  # the second click finds it decided
        press = click(approve["action_id"], approve["value"], user=APPROVER, message=message)
        assert httpx.post(url, content=press, headers=signed(press, secret), timeout=10).status_code == 200
    wait_for(lambda: len(replies_in(slack, ts)) == 3 and slack.posted("chat.postEphemeral"), within_s=60)
    (update,) = slack.posted("chat.update")
    assert update["ts"] == posts[1]["_ts"] and "has been issued" in replies_in(slack, ts)[2]["text"]
    assert len(refunds_of(engine, order)) == before + 1
