"""Several processes on one SQLite file append to one tenant's audit chain without breaking it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from api.audit import AuditLog
from api.db import create_schema, make_engine

WRITER = textwrap.dedent("""
    import sys
    from api.audit import AuditLog
    from api.db import make_engine
    audit = AuditLog(make_engine(sys.argv[1]))
    for i in range(int(sys.argv[2])):
        audit.record(tenant="default", type="test.event", payload={"writer": sys.argv[3], "i": i})
""")


def test_two_processes_append_to_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    create_schema(make_engine(url))
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, "60", name],
            cwd=Path(__file__).parents[2],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b", "c")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-2000:]
    audit = AuditLog(make_engine(url))
    events = audit.list(tenant="default", limit=1000)
    assert len(events) == 180 and sorted(e.seq for e in events) == list(range(1, 181))
    assert audit.verify("default").ok
