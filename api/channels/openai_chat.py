"""The OpenAI Chat Completions protocol: requests in, `chat.completion` and `chat.completion.chunk` out,
errors in OpenAI's shape (so SDK clients raise their usual exceptions); the conversation service works."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.turns import TurnResult, content_text

MODEL_ID = "deskpilot"
TOOLS_REFUSED = (
    "Deskpilot does not take tools or functions from the request: it calls its own validated business "
    "tools (order lookup, refund eligibility, refunds after staff approval) on the server side, where "
    "ownership and policy are checked. Send the conversation without `tools`, `functions`, `tool_choice` "
    "or `function_call`; the tool calls Deskpilot made are listed in the response's `deskpilot` object."
)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The fields Deskpilot reads; sampling parameters and the like are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=1)
    user: str | None = Field(default=None, max_length=200)
    metadata: dict[str, str] | None = None
    tools: Any = None
    functions: Any = None
    tool_choice: Any = None
    function_call: Any = None

    @property
    def asks_for_tools(self) -> str | None:
        for name in ("tools", "functions", "tool_choice", "function_call"):
            if getattr(self, name) not in (None, [], "none"):
                return name
        return None


class OpenAIError(Exception):
    """An error as OpenAI reports it: {"error": {"message", "type", "param", "code"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


_TYPES = {
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
_CODES = {
    401: "invalid_api_key",
    403: "insufficient_scope",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limit_exceeded",
}


def error_for(status: int, message: str, code: str | None = None) -> OpenAIError:
    kind = "server_error" if status >= 500 else _TYPES.get(status, "invalid_request_error")
    return OpenAIError(status, message, type=kind, code=code or _CODES.get(status))


# --- request -> the customer's message -------------------------------------------------------------------


def customer_text(request: ChatCompletionRequest, *, continued: bool) -> str:
    """The text of this turn. A continued conversation already holds its history, so only the newest user
    message counts; otherwise the request's earlier turns go along as context, at the customer's trust
    level (they come from the caller, like the message). System and developer messages are ignored:
    Deskpilot's own instructions come first, always the same."""
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise OpenAIError(400, "the last message must come from the user", param="messages")
    latest = content_text(turns[-1].content or "")
    if not latest.strip():
        raise OpenAIError(400, "the last user message is empty", param="messages")
    if continued or len(turns) == 1:
        return latest
    earlier = "\n".join(
        f"{'Customer' if m.role == 'user' else 'Assistant'}: {content_text(m.content or '')}"
        for m in turns[:-1]
    )
    return f"Earlier in this conversation:\n{earlier}\n\nThe customer's new message:\n{latest}"


# --- the result -> OpenAI's objects ----------------------------------------------------------------------


def usage(result: TurnResult) -> dict[str, Any]:
    prompt, cached = int(result.usage.get("input_tokens", 0)), int(result.usage.get("cached_tokens", 0))
    completion = int(result.usage.get("output_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def extension(result: TurnResult, tool_calls: list[dict[str, Any]], status: str) -> dict[str, Any]:
    """What Deskpilot adds to the OpenAI objects: the grounding and the actions of the turn."""
    return {
        "conversation_id": result.conversation_id,
        "turn_id": result.turn_id,
        "citations": result.citations,
        "tool_calls": tool_calls,
        "pending_approval": result.pending_approval,
        "model": result.model,
        "degraded": result.degraded,
        "degraded_reason": result.degraded_reason or ("model_unavailable" if result.degraded else None),
        "redactions": result.redactions,
        "status": status,
    }


def completion(completion_id: str, result: TurnResult, deskpilot: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.reply, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage(result),
        "deskpilot": deskpilot,
    }


class ChunkWriter:
    """`chat.completion.chunk` events of one completion: one id, the same `created` throughout."""

    def __init__(self, completion_id: str, *, include_usage: bool) -> None:
        self.id, self.created, self.include_usage = completion_id, int(time.time()), include_usage

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL_ID,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
            **extra,
        }
        if self.include_usage:
            body["usage"] = None
        return sse(body)

    def usage_chunk(self, result: TurnResult) -> str:
        return sse(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": MODEL_ID,
                "system_fingerprint": None,
                "choices": [],
                "usage": usage(result),
            }
        )


def sse(body: dict[str, Any] | str) -> str:
    return f"data: {body if isinstance(body, str) else json.dumps(body, default=str)}\n\n"


DONE = sse("[DONE]")
