"""Property-based fuzzing of every operation in the OpenAPI schema: whatever arrives, never a 500.

(503 is allowed: this app runs without a knowledge base, and says so.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import bearer, make_client


@pytest.fixture
def fuzz_target(settings: Any, seeded_engine: Any) -> Iterator[tuple[Any, list[Any], dict[str, str]]]:
    with make_client(settings, seeded_engine) as client:
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        operations = [result.ok() for result in schema.get_all_operations()]
        headers = bearer(seeded_engine, "default", ("agent", "integration", "admin", "approve"))
        yield client, operations, headers


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(data=st.data())
def test_no_operation_answers_with_a_server_error(fuzz_target: Any, data: st.DataObject) -> None:
    client, operations, headers = fuzz_target
    for operation in operations:
        case = data.draw(operation.as_strategy(), label=operation.label)
        kwargs = case.as_transport_kwargs(headers=headers)
        response = client.request(
            kwargs.pop("method"),
            kwargs.pop("url"),
            **{
                k: v
                for k, v in kwargs.items()
                if k in ("params", "headers", "json", "content", "files", "data")
            },
        )
        assert response.status_code != 500, (
            f"{operation.label} -> {response.status_code}: {response.text[:300]}"
        )
