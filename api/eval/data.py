"""Where the evaluation reads from: the public data beside the project, and the source checkout's bench/."""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / ".." / "shared" / "eval-data"
DEMO_QUESTIONS = PROJECT_ROOT / "tests" / "knowledge" / "fixtures" / "demo_questions.json"


def source_checkout() -> Path:
    """The project root on `sys.path`, so the suites can reuse `bench/` (which is not packaged).

    `deskpilot eval` is run from a clone (the data sets sit beside it); an installed wheel has no bench/.
    """
    if not (PROJECT_ROOT / "bench" / "__init__.py").is_file():
        raise RuntimeError("deskpilot eval needs a source checkout of Deskpilot (bench/ is not installed)")
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.append(str(PROJECT_ROOT))
    return PROJECT_ROOT
