"""A real `deskpilot serve` killed with SIGKILL after accepting a delivery and before its note is posted:
restarted, it posts the note exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.api.channels.helpdesk import signing
from tests.api.channels.helpdesk.conftest import SECRETS, delivery, settled
from tests.api.channels.helpdesk.fake_helpdesk import FakeHelpdesk, Hang
from tests.api.job_handlers import wait_for

REPO = Path(__file__).resolve().parents[4]


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
        "DESKPILOT_HELPDESK_TIMEOUT_S": "120",  # the first post hangs until the kill
    }
    deskpilot = Path(sys.executable).parent / "deskpilot"
    process = subprocess.Popen(
        [str(deskpilot), "serve", "--port", str(port)],
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


def test_sigkill_between_accepting_and_posting_posts_the_note_once(
    settings: Any, seeded_engine: Any, fake: FakeHelpdesk, tmp_path: Path
) -> None:
    # Registered the way the README says: the CLI, secrets on stdin.
    added = subprocess.run(
        [
            str(Path(sys.executable).parent / "deskpilot"),
            "integrations",
            "add",
            "zendesk",
            "--tenant",
            "default",
            "--config",
            f"base_url={fake.url}",
            "--config",
            "email=agent@acme.example",
            "--secrets-json",
            "-",
            "--json",
        ],
        input=json.dumps(SECRETS["zendesk"]),
        env={**os.environ, "DESKPILOT_HOME": str(settings.home)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr[-2000:]
    integration_id = json.loads(added.stdout)["id"]
    assert json.loads(added.stdout)["inbound_url"] == f"/v1/webhooks/zendesk/{integration_id}"
    fake.script.append(Hang(600))
    port, log = free_port(), tmp_path / "serve.log"
    first = serve(settings, port, log)
    try:
        raw, headers = signing.zendesk(
            SECRETS["zendesk"]["signing_secret"], signing.zendesk_ticket(31, "Where is my order ORD-104233?")
        )
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/webhooks/zendesk/{integration_id}", content=raw, headers=headers
        )
        assert answer.status_code == 202, answer.text
        delivery_id = answer.json()["delivery_id"]
        wait_for(lambda: fake.writes(), within_s=120)  # the note is on its way, and hangs
        assert delivery(seeded_engine, delivery_id).result.get("note") == "posting"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert fake.notes["31"] == [] and delivery(seeded_engine, delivery_id).status == "accepted"

    second = serve(settings, port, log)
    try:
        done = settled(seeded_engine, delivery_id, within_s=120)
        time.sleep(1.0)  # a second post, if there were one, would land now
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert done.status == "done", log.read_text()[-3000:]
    assert len(fake.notes["31"]) == 1 and f"[deskpilot:{delivery_id}]" in fake.notes["31"][0]
    assert [w.method for w in fake.writes()] == ["PUT", "PUT"]  # the hung one (never kept), then one
    assert any(r.method == "GET" for r in fake.requests)  # the restart asked before posting again
