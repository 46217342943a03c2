"""Shared test helpers: a local OpenAI-compatible server and its pytest fixtures."""

from tests.support.openai_server import (
    CapturedRequest,
    Fail,
    Hang,
    OpenAIStub,
    Reply,
    Structured,
    ToolCalls,
    Usage,
)

__all__ = ["CapturedRequest", "Fail", "Hang", "OpenAIStub", "Reply", "Structured", "ToolCalls", "Usage"]
