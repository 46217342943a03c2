"""What `serve` leaves for first use: a module here that loads at start-up costs every start its time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The openai SDK loads with the first model or Batch API client (an offline start never needs it).
DEFERRED = ("slack_bolt", "slack_sdk", "alembic", "openai", "langchain_openai")


def test_the_app_the_cli_and_the_job_handlers_import_without_the_deferred_modules() -> None:
    probe = (
        "import sys, api.cli, api.main; from api.jobs.handlers import load_handler_modules; "
        f"load_handler_modules([]); print(sorted(m for m in {DEFERRED!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
