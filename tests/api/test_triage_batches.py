"""Backlog triage: POST /v1/triage/batches and `deskpilot triage-backlog`, through a local Batch API fake
(files, batches, the output file) and offline with the offline classifier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.models import UsageRecord
from tests.api.batch_fake import BatchFake
from tests.api.job_handlers import wait_for
from tests.conftest import bearer, make_client

TICKETS = [
    {
        "id": "T-1",
        "subject": "Charged twice",
        "text": "I was charged twice for order ORD-104233, refund one please",
    },
    {"id": "T-2", "text": "Where is my parcel? It is a week late. Write to me at dana.w@example.com"},
    {"id": "T-3", "text": "I cannot log in to my account, the password reset never arrives"},
]


@pytest.fixture
def fake() -> Iterator[BatchFake]:
    with BatchFake(polls_before_done=2, fail_ids=("T-3",)) as batch_api:
        yield batch_api


def batch_settings(settings: Any, fake: BatchFake) -> Any:
    return settings.model_copy(
        update={
            "force_offline": False,
            "openai_api_key": SecretStr("sk-test"),
            "llm_base_url": fake.base_url,
            "llm_max_retries": 0,
            "triage_batch_poll_s": 0.05,
            "job_poll_s": 0.05,
        }
    )


def finished(client: Any, batch_id: str, headers: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = wait_for(
        lambda: (
            (b := client.get(f"/v1/triage/batches/{batch_id}", headers=headers).json())["status"] == "done"
            and b
        )
    )
    return body


def test_the_batch_api_path_uploads_polls_downloads_and_applies_at_half_price(
    settings: Any, seeded_engine: Any, fake: BatchFake, redactor: Any
) -> None:
    with make_client(batch_settings(settings, fake), seeded_engine, redactor=redactor) as client:
        headers = bearer(seeded_engine, scopes=("integration",))
        created = client.post("/v1/triage/batches", json={"tickets": TICKETS}, headers=headers)
        assert created.status_code == 202, created.text
        assert created.json()["mode"] == "batch"
        done = finished(client, created.json()["id"], headers)
    by_id = {r["id"]: r for r in done["results"]}
    assert (
        by_id["T-1"]["triage"]["confidence"] == 0.97 and by_id["T-1"]["degraded"] is False
    )  # from the batch
    assert by_id["T-1"]["triage"]["queue"] == "billing"
    assert (
        by_id["T-3"]["degraded"] is True and "failed" in by_id["T-3"]["error"]
    )  # classified locally instead
    assert [m for m, _ in fake.requests].count("GET") >= 3  # polled until completed, then the output file
    assert ("POST", "/v1/files") in fake.requests and ("POST", "/v1/batches") in fake.requests
    # One custom_id per ticket, the strict triage schema, the tickets redacted.
    (input_file,) = [f for f in fake.files.values() if b'"custom_id"' in f and b'"url"' in f]
    lines = [json.loads(line) for line in input_file.decode().splitlines()]
    assert [line["custom_id"] for line in lines] == ["T-1", "T-2", "T-3"]
    assert lines[0]["body"]["response_format"]["json_schema"]["strict"] is True
    assert b"dana.w@example.com" not in input_file
    usage = done["usage"]
    assert usage["requests"] == 2 and usage["input_tokens"] == 800 and usage["cached_tokens"] == 512
    assert usage["cost_usd"] == pytest.approx(usage["full_price_usd"] / 2) and usage["cost_usd"] > 0
    with Session(seeded_engine) as session:
        records = session.exec(select(UsageRecord).where(UsageRecord.conversation_id.is_(None))).all()  # type: ignore[union-attr]
    assert [r.cost_usd for r in records] == [pytest.approx(usage["cost_usd"])]


def test_offline_the_offline_classifier_does_the_batch(settings: Any, seeded_engine: Any) -> None:
    with make_client(settings.model_copy(update={"job_poll_s": 0.05}), seeded_engine) as client:
        headers = bearer(seeded_engine, scopes=("integration",))
        created = client.post("/v1/triage/batches", json={"tickets": TICKETS}, headers=headers).json()
        assert created["mode"] == "offline"
        done = finished(client, created["id"], headers)
        assert [r["model"] for r in done["results"]] == ["deskpilot-offline"] * 3
        assert (
            client.get(
                f"/v1/triage/batches/{created['id']}",
                headers=bearer(seeded_engine, tenant="acme", scopes=("integration",)),
            ).status_code
            == 404
        )
        duplicate = client.post("/v1/triage/batches", json={"tickets": TICKETS[:1] * 2}, headers=headers)
        assert duplicate.status_code == 422


@pytest.mark.parametrize("mode", ["offline", "batch"])
def test_the_cli_triages_a_backlog_file(
    mode: str,
    settings: Any,
    seeded_engine: Any,
    fake: BatchFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api import cli, cli_triage

    chosen = batch_settings(settings, fake) if mode == "batch" else settings
    monkeypatch.setattr(cli_triage, "get_settings", lambda: chosen)
    backlog = tmp_path / "backlog.jsonl"
    backlog.write_text("\n".join(json.dumps(t) for t in TICKETS) + "\n")
    result = CliRunner().invoke(cli.app, ["triage-backlog", str(backlog), "--poll-s", "0.05"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["mode"] == mode and summary["tickets"] == 3
    written = [json.loads(line) for line in (tmp_path / "backlog.triage.jsonl").read_text().splitlines()]
    assert [r["id"] for r in written] == ["T-1", "T-2", "T-3"]
    if mode == "batch":
        assert summary["provider_batch_id"].startswith("batch_") and summary["fallbacks"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    assert CliRunner().invoke(cli.app, ["triage-backlog", str(bad)]).exit_code == 2
