"""The agent's OpenTelemetry spans (GenAI semantic conventions): ids, models, counts, never message text.

Exceptions are not recorded on spans, because an exception's text can quote the customer; a failed span
carries the exception's type only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from agent.offline import OFFLINE_MODEL_NAME

tracer = trace.get_tracer("deskpilot.agent")
QUIET: dict[str, Any] = {"record_exception": False, "set_status_on_exception": False}


def failed(span: Span, error: BaseException) -> None:
    span.set_attribute("error.type", type(error).__name__)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))


def tool_span(call_id: str, name: str) -> Any:
    """One tool call (`execute_tool`): the tool's name and call id, never its arguments or result."""
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
    }
    return tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes, **QUIET)


@contextmanager
def model_span(model: str) -> Iterator[Span]:
    """One model call (`chat`), one link of the fallback chain."""
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "deskpilot-offline" if model == OFFLINE_MODEL_NAME else "openai",
        "gen_ai.request.model": model,
    }
    with tracer.start_as_current_span(
        f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes, **QUIET
    ) as span:
        yield span


def record_reply(span: Span, reply: Any) -> None:
    """The response model and token usage of a reply (cached tokens are part of the input tokens)."""
    if not span.is_recording():
        return
    metadata = getattr(reply, "response_metadata", None) or {}
    if model := metadata.get("model_name"):
        span.set_attribute("gen_ai.response.model", str(model))
    if finish := metadata.get("finish_reason"):
        span.set_attribute("gen_ai.response.finish_reasons", [str(finish)])
    usage = getattr(reply, "usage_metadata", None) or {}
    cached = int((usage.get("input_token_details") or {}).get("cache_read", 0) or 0)
    span.set_attribute("gen_ai.usage.input_tokens", int(usage.get("input_tokens", 0) or 0))
    span.set_attribute("gen_ai.usage.output_tokens", int(usage.get("output_tokens", 0) or 0))
    span.set_attribute("gen_ai.usage.cache_read_input_tokens", cached)
    span.set_attribute("deskpilot.usage.cached_tokens", cached)
