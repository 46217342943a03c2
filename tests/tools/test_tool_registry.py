"""The registry: fixed order, stable descriptions (part of the cached prompt prefix), shared vocabularies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

from tools import SENSITIVE_TOOLS, TOOLS
from tools.base import ESCALATION_REASONS, PRIORITIES, QUEUES, Priority, Queue
from tools.escalation import HANDOFF_ROUTES, ReasonCategory

REPO = Path(__file__).resolve().parents[2]
DUMP = (
    "import json; from tools import TOOLS; print(json.dumps([[s.name, s.description, s.sensitive, "
    "s.args_model.model_json_schema()] for s in TOOLS.values()], sort_keys=True))"
)


def test_tool_order_is_fixed() -> None:
    assert list(TOOLS) == [
        "lookup_order",
        "lookup_refund",
        "route_ticket",
        "escalate_to_human",
        "issue_refund",
        "cancel_order",
        "update_shipping_address",
        "search_knowledge",  # appended last: the tools before it keep their bytes of the cached prefix
    ]
    assert all(name == spec.name for name, spec in TOOLS.items())


def test_sensitive_tools_have_policy_checks() -> None:
    assert {"issue_refund", "cancel_order", "update_shipping_address"} == SENSITIVE_TOOLS
    for spec in TOOLS.values():
        assert (spec.check is not None) is spec.sensitive


def test_descriptions_hold_nothing_that_varies() -> None:
    for spec in TOOLS.values():
        text = spec.description + json.dumps(spec.args_model.model_json_schema())
        assert not re.search(r"\d{4}-\d{2}-\d{2}|ORD-\d|CUS-\d|TCK-\d|RF-[0-9A-F]", text), spec.name
        assert 150 < len(spec.description) < 600, spec.name


def test_prefix_is_byte_identical_across_processes() -> None:
    """Hash seeds and import order must not change a byte of what the model is sent."""
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", DUMP],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    here = json.dumps(
        [[s.name, s.description, s.sensitive, s.args_model.model_json_schema()] for s in TOOLS.values()],
        sort_keys=True,
    )
    assert outputs == {here + "\n"}


def test_vocabularies_match_the_shared_contract() -> None:
    assert get_args(Queue) == QUEUES
    assert get_args(Priority) == PRIORITIES
    assert get_args(ReasonCategory) == ESCALATION_REASONS
    assert set(HANDOFF_ROUTES) == set(ESCALATION_REASONS)
    assert all(queue in QUEUES and priority in PRIORITIES for queue, priority in HANDOFF_ROUTES.values())


def test_schemas_are_openai_function_parameters() -> None:
    for spec in TOOLS.values():
        schema = spec.args_model.model_json_schema()
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert "$defs" not in schema  # flat schemas: no references for the model to resolve
        for name, prop in schema["properties"].items():
            assert "description" in prop, (spec.name, name)
