"""Pytest fixtures for the OpenAI test server: one server per session, reset for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.openai_server import OpenAIStub


@pytest.fixture(scope="session")
def openai_stub_server() -> Iterator[OpenAIStub]:
    """The running server; starting one costs ~50 ms, so the whole session shares it."""
    with OpenAIStub() as stub:
        yield stub


@pytest.fixture
def openai_stub(openai_stub_server: OpenAIStub) -> Iterator[OpenAIStub]:
    """The shared server with an empty queue, no recorded requests and the default reply."""
    openai_stub_server.reset()
    yield openai_stub_server
    openai_stub_server.reset()
