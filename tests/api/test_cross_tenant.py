"""No read or write crosses tenants: tenant B, holding every scope, against each of tenant A's resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session

from api.audit import AuditLog
from api.jobs import JobQueue
from tests.api.test_approvals import refundable_order
from tests.conftest import bearer, make_client
from tests.support.cross_tenant import attack, make_resources, snapshot, unchanged

ALL = ("agent", "integration", "admin", "approve")


def test_no_read_or_write_crosses_tenants(settings: Any, seeded_engine: Any, tmp_path: Path) -> None:
    from knowledge import open_knowledge_base

    kb = open_knowledge_base(chroma_path=tmp_path / "chroma", chroma_url=None, models_dir=settings.models_dir)
    mine, theirs = bearer(seeded_engine, "default", ALL), bearer(seeded_engine, "other", ALL)
    queue = JobQueue(engine=seeded_engine, settings=settings, audit=AuditLog(seeded_engine))

    def enqueue_job() -> str:
        with Session(seeded_engine, expire_on_commit=False) as session:
            # Not due for an hour: the app's own job runner must not attempt it while the snapshot is
            # compared (it did once on a loaded machine: attempts 0 -> 1 with no request from tenant B).
            job = queue.enqueue(session, tenant="default", kind="test.unknown", payload={}, delay_s=3600)
            session.commit()
        return job.id

    with make_client(settings, seeded_engine, knowledge=kb) as client:
        owned = make_resources(client, mine, refundable_order(seeded_engine), enqueue_job)
        assert owned.document is not None
        before = snapshot(client, mine, owned)
        # B's own conversation too, so its lists are not trivially empty.
        client.post("/v1/conversations", json={}, headers=theirs)
        violations = attack(client, theirs, owned)
        assert violations == []
        assert unchanged(client, mine, owned, before) == []
        # The battery can fail: A's own key sees its resources through the same requests.
        assert attack(client, mine, owned)
