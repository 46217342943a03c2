"""`deskpilot ingest` and `deskpilot search`, run through typer on a small app of their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from kb_support import write_docs
from typer.testing import CliRunner

from api.cli_knowledge import ingest, search
from api.settings import get_settings

app = typer.Typer()
app.command()(ingest)
app.command()(search)
runner = CliRunner()


@pytest.fixture(autouse=True)
def cli_settings(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DESKPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DESKPILOT_MODELS_DIR", str(models_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_ingest_twice_then_search_as_table_and_json(tmp_path: Path) -> None:
    folder = write_docs(
        tmp_path / "docs",
        {
            "tents.md": "# Tent Care\n\n## Storage\n\nDry the NB-TENT-2P completely before storing it.",
            "hours.md": "# Support Hours\n\nPhone support runs Monday to Friday, 8 am to 6 pm Pacific.",
        },
    )
    first = runner.invoke(app, ["ingest", str(folder), "--tenant", "acme"])
    assert first.exit_code == 0, first.output
    assert "tenant acme: 2 documents: 2 chunks added, 0 updated, 0 unchanged, 0 deleted" in first.output
    second = runner.invoke(app, ["ingest", str(folder), "--tenant", "acme"])
    assert "0 chunks added, 0 updated, 2 unchanged, 0 deleted" in second.output

    table = runner.invoke(app, ["search", "NB-TENT-2P storage", "--tenant", "acme", "-k", "1"])
    assert table.exit_code == 0, table.output
    assert " 1. " in table.output and "Tent Care > Storage" in table.output
    assert str((folder / "tents.md").resolve()) in table.output

    raw = runner.invoke(app, ["search", "when can I call support", "--tenant", "acme", "--json"])
    passages = json.loads(raw.stdout)
    assert passages[0]["title"] == "Support Hours"
    assert set(passages[0]) >= {
        "chunk_id",
        "document_id",
        "title",
        "section",
        "source",
        "text",
        "score",
        "flagged",
    }

    other = runner.invoke(app, ["search", "tent", "--tenant", "someone-else", "--json"])
    assert json.loads(other.stdout) == []


def test_ingest_reports_skipped_files_and_fails_when_nothing_was_read(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope.md"), str(tmp_path / "x.pdf")])
    assert result.exit_code == 1
    assert "nope.md: no such file or folder" in result.output


def test_search_validates_k() -> None:
    assert runner.invoke(app, ["search", "tents", "-k", "0"]).exit_code == 2
    assert runner.invoke(app, ["search", "tents", "--k", "51"]).exit_code == 2
