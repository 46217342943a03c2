"""Where the evaluation reads from: the public data beside the project."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / ".." / "shared" / "eval-data"
DEMO_QUESTIONS = PROJECT_ROOT / "tests" / "knowledge" / "fixtures" / "demo_questions.json"
