"""The audit chain detects edits, deletions and reordering; the CLI names the first broken event."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.audit import AuditLog


@pytest.fixture
def audit(engine: Any) -> AuditLog:
    log = AuditLog(engine)
    for i in range(5):
        log.record(
            tenant="default",
            type="turn.received",
            actor="key_1",
            conversation_id="conv_1",
            payload={"n": i, "content": f"message {i}"},
        )
    log.record(tenant="acme", type="turn.received", payload={"n": 0})
    return log


def test_intact_chain_verifies(audit: AuditLog) -> None:
    result = audit.verify()
    assert result.ok and result.checked == 6


def test_chains_are_per_tenant(audit: AuditLog) -> None:
    events = audit.list(tenant="acme")
    assert [e.seq for e in events] == [1]
    assert audit.verify("acme").ok


def test_edited_payload_is_detected(audit: AuditLog, engine: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET payload = :p WHERE tenant='default' AND seq=3"),
            {"p": '{"n": 2, "content": "tampered"}'},
        )
    result = audit.verify()
    assert not result.ok and (result.tenant, result.seq) == ("default", 3)
    assert "hash" in (result.reason or "")


def test_edited_type_is_detected(audit: AuditLog, engine: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET type='reply.sent' WHERE tenant='default' AND seq=2"))
    assert audit.verify().seq == 2


def test_deleted_event_is_detected(audit: AuditLog, engine: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE tenant='default' AND seq=2"))
    result = audit.verify()
    assert not result.ok and result.seq == 3 and "deleted" in (result.reason or "")


def test_deleted_newest_event_is_detected(audit: AuditLog, engine: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE tenant='default' AND seq=5"))
    result = audit.verify()
    assert not result.ok and "head" in (result.reason or "")


def test_reordered_events_are_detected(audit: AuditLog, engine: Any) -> None:
    # Swap the contents of two rows (ids stay in place), as a reorder in storage would.
    with engine.begin() as conn:
        rows = {
            r.seq: r
            for r in conn.execute(text("SELECT * FROM audit_events WHERE tenant='default' AND seq IN (2, 3)"))
        }
        for seq, other in ((2, 3), (3, 2)):
            r = rows[other]
            conn.execute(
                text(
                    "UPDATE audit_events SET seq=:seq, payload=:payload, prev_hash=:prev, hash=:hash, "
                    "created_at=:created WHERE id=:id"
                ),
                {
                    "seq": -seq,
                    "payload": r.payload,
                    "prev": r.prev_hash,
                    "hash": r.hash,
                    "created": r.created_at,
                    "id": rows[seq].id,
                },
            )
        conn.execute(text("UPDATE audit_events SET seq=-seq WHERE seq < 0"))
    result = audit.verify()
    assert not result.ok and result.seq == 2 and "link" in (result.reason or "")


def test_cli_verify_exit_codes(
    audit: AuditLog, engine: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api import cli

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    runner = CliRunner()
    ok = runner.invoke(cli.app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "6 events verified" in ok.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor='someone' WHERE tenant='default' AND seq=4"))
    broken = runner.invoke(cli.app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "default event 4" in broken.output


def test_concurrent_appends_keep_the_chain(engine: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    log = AuditLog(engine)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: log.record(tenant="default", type="x", payload={"i": i}), range(40)))
    result = log.verify()
    assert result.ok and result.checked == 40
