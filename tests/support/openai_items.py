"""Scripted answers of the OpenAI test server and how each renders as OpenAI's wire format."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True)
class Usage:
    """Token usage to report; `cached_tokens` is the part of `prompt_tokens` served from the cache."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    def as_openai(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


@dataclass(frozen=True)
class Reply:
    """An assistant message with text content."""

    text: str
    usage: Usage | None = None


@dataclass(frozen=True)
class Structured:
    """Structured output: the JSON text of `obj` as the message content (for `response_format` requests)."""

    obj: dict[str, Any]
    usage: Usage | None = None


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message calling one or more tools: `[(name, arguments), ...]`; ids are generated."""

    calls: list[tuple[str, dict[str, Any]]]
    usage: Usage | None = None


@dataclass(frozen=True)
class Fail:
    """An HTTP error with OpenAI's error body; `retry_after` (seconds) becomes the `retry-after` header."""

    status: int = 500
    retry_after: float | None = None
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Hang:
    """Wait `seconds` before answering (to trip client timeouts), then answer with `then` or the default.

    A hang does not consume the next queued item: a client that times out and retries gets that one.
    """

    seconds: float
    then: Answer | None = None


Answer: TypeAlias = Reply | Structured | ToolCalls | Fail
Item: TypeAlias = Answer | Hang

_ERROR_KINDS = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", "server_error"),
    503: ("server_error", "service_unavailable"),
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope, so the SDK raises the exception class it raises against OpenAI."""
    kind, code = _ERROR_KINDS.get(status, ("server_error", "server_error"))
    return {
        "error": {
            "message": message or f"Scripted failure from the OpenAI test server (HTTP {status}).",
            "type": kind,
            "param": None,
            "code": code,
        }
    }


def estimate_tokens(text_or_bytes: str | bytes) -> int:
    """A plausible token count (about four bytes per token) for answers that script no usage."""
    return max(1, len(text_or_bytes) // 4)


@dataclass
class Completion:
    """One answer being rendered, for one request: a full body or a sequence of stream chunks."""

    item: Reply | Structured | ToolCalls
    model: str
    usage: Usage
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))
    tool_call_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.item, ToolCalls):
            self.tool_call_ids = [f"call_{uuid.uuid4().hex[:24]}" for _ in self.item.calls]

    @property
    def content(self) -> str | None:
        if isinstance(self.item, Reply):
            return self.item.text
        if isinstance(self.item, Structured):
            return json.dumps(self.item.obj)
        return None

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if isinstance(self.item, ToolCalls) else "stop"

    def _tool_calls(self) -> list[dict[str, Any]]:
        assert isinstance(self.item, ToolCalls)
        return [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for call_id, (name, args) in zip(self.tool_call_ids, self.item.calls, strict=True)
        ]

    def body(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content, "refusal": None}
        if isinstance(self.item, ToolCalls):
            message["tool_calls"] = self._tool_calls()
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_deskpilot_stub",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}
            ],
            "usage": self.usage.as_openai(),
        }

    def chunks(self, include_usage: bool, pieces: int = 3) -> Iterator[dict[str, Any]]:
        """Stream chunks the way OpenAI sends them: role first, content or arguments in pieces."""
        first: dict[str, Any] = {"role": "assistant", "content": "" if self.content is not None else None}
        if isinstance(self.item, ToolCalls):
            # Each call opens with its id and name; its arguments follow in several deltas.
            calls = self._tool_calls()
            yield self._chunk(first, include_usage)
            for index, call in enumerate(calls):
                opening = {
                    "index": index,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
                yield self._chunk({"tool_calls": [opening]}, include_usage)
                for piece in split(call["function"]["arguments"], pieces):
                    delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                    yield self._chunk(delta, include_usage)
        else:
            yield self._chunk(first, include_usage)
            for piece in split(self.content or "", pieces):
                yield self._chunk({"content": piece}, include_usage)
        yield self._chunk({}, include_usage, finish_reason=self.finish_reason)
        if include_usage:
            yield {**self._envelope(), "choices": [], "usage": self.usage.as_openai()}

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_deskpilot_stub",
        }

    def _chunk(self, delta: dict[str, Any], include_usage: bool, finish_reason: str | None = None) -> dict:
        chunk = {
            **self._envelope(),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if include_usage:
            chunk["usage"] = None  # OpenAI sends null usage on every chunk but the last
        return chunk


def split(text: str, pieces: int) -> list[str]:
    """Cut text into up to `pieces` non-empty parts so streaming clients must reassemble it."""
    if not text:
        return []
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]
