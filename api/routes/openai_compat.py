"""The OpenAI-compatible endpoint: GET /v1/models and POST /v1/chat/completions with model "deskpilot".

Every error on these routes, including a missing key or an invalid body, is answered in OpenAI's error
shape by `OpenAIRoute`, so `openai` and LangChain clients raise AuthenticationError, BadRequestError, ...
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from agent.turns import TurnResult
from api.auth import Principal
from api.channels.openai_chat import (
    DONE,
    MODEL_ID,
    TOOLS_REFUSED,
    ChatCompletionRequest,
    ChunkWriter,
    OpenAIError,
    completion,
    customer_text,
    error_for,
    extension,
    sse,
)
from api.deps import AgentKey, RuntimeDep
from api.errors import ApiError, NotFoundError
from api.limits import TurnSlot
from api.routes.conversations import _tool_call
from api.runtime import Runtime

log = logging.getLogger(__name__)
CHANNEL = "openai"


class OpenAIRoute(APIRoute):
    """Maps every failure of the route (auth, validation, domain errors) to OpenAI's error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except OpenAIError as error:
                return JSONResponse(error.body(), status_code=error.status)
            except RequestValidationError as error:
                first = error.errors()[0] if error.errors() else {}
                param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
                message = f"{param or 'body'}: {first.get('msg', 'invalid')}"
                return JSONResponse(OpenAIError(400, message, param=param).body(), status_code=400)
            except HTTPException as error:
                failure = error_for(error.status_code, str(error.detail))
                return JSONResponse(failure.body(), status_code=failure.status, headers=error.headers)
            except ApiError as error:
                failure = error_for(error.status_code, error.message, code=error.code)
                headers = getattr(error, "headers", None)  # a 429's Retry-After
                return JSONResponse(failure.body(), status_code=failure.status, headers=headers)

        return route


router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=OpenAIRoute)


@router.get("/models")
def list_models(principal: AgentKey) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 1764547200, "owned_by": "deskpilot"}],
    }


@router.get("/models/{model_id}")
def get_model(model_id: str, principal: AgentKey) -> dict[str, Any]:
    if model_id != MODEL_ID:
        raise OpenAIError(
            404, f"The model '{model_id}' does not exist", param="model", code="model_not_found"
        )
    return {"id": MODEL_ID, "object": "model", "created": 1764547200, "owned_by": "deskpilot"}


@router.post("/chat/completions", response_model=None, dependencies=[TurnSlot])
async def chat_completions(
    body: ChatCompletionRequest, runtime: RuntimeDep, principal: AgentKey
) -> dict[str, Any] | StreamingResponse:
    """One turn of a Deskpilot conversation. `metadata.conversation_id` (or `user`, as your own reference)
    continues a conversation; `metadata.customer_id` names the customer; without either, the request's
    messages are the context."""
    if body.model != MODEL_ID:
        raise OpenAIError(
            404,
            f"The model '{body.model}' does not exist; use '{MODEL_ID}'",
            param="model",
            code="model_not_found",
        )
    if (asked := body.asks_for_tools) is not None:
        raise OpenAIError(400, TOOLS_REFUSED, param=asked, code="tools_not_supported")
    conversation_id, continued = _conversation(runtime, principal, body)
    metadata = body.metadata or {}
    text = customer_text(body, continued=continued)
    if len(text) > runtime.settings.max_message_chars:
        raise OpenAIError(
            400,
            f"the conversation is longer than {runtime.settings.max_message_chars} characters",
            param="messages",
            code="context_length_exceeded",
        )
    customer_id = metadata.get("customer_id")
    await runtime.conversations.check_can_send(
        tenant=principal.tenant, conversation_id=conversation_id, customer_id=customer_id
    )
    turn: dict[str, Any] = {
        "tenant": principal.tenant,
        "conversation_id": conversation_id,
        "text": text,
        "customer_id": customer_id,
        "actor": principal.key_id,
        "channel": CHANNEL,
    }
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        writer = ChunkWriter(completion_id, include_usage=include_usage)
        events = _chunks(runtime, principal, writer, runtime.conversations.stream(**turn))
        return StreamingResponse(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    result = await runtime.conversations.send(**turn)
    return completion(completion_id, result, _extension(runtime, principal, result))


def _conversation(runtime: Runtime, principal: Principal, body: ChatCompletionRequest) -> tuple[str, bool]:
    """(conversation id, whether it continues one the caller named)."""
    metadata = body.metadata or {}
    if conversation_id := metadata.get("conversation_id"):
        try:
            runtime.conversations.get(tenant=principal.tenant, conversation_id=conversation_id)
        except NotFoundError:
            raise OpenAIError(
                404,
                f"conversation {conversation_id} not found",
                param="metadata.conversation_id",
                code="conversation_not_found",
            ) from None
        return conversation_id, True
    if body.user:
        conversation, created = runtime.conversations.open(
            tenant=principal.tenant, channel=CHANNEL, external_id=body.user, actor=principal.key_id
        )
        return conversation.id, not created
    conversation = runtime.conversations.create(
        tenant=principal.tenant, customer_id=None, channel=CHANNEL, actor=principal.key_id
    )
    return conversation.id, False


def _extension(runtime: Runtime, principal: Principal, result: TurnResult) -> dict[str, Any]:
    calls = [_tool_call(c, runtime, principal, False, result.conversation_id) for c in result.tool_calls]
    status = runtime.conversations.get(tenant=principal.tenant, conversation_id=result.conversation_id).status
    return extension(result, calls, status)


async def _chunks(
    runtime: Runtime, principal: Principal, writer: ChunkWriter, events: AsyncIterator[Any]
) -> AsyncIterator[str]:
    """A role chunk, content deltas, the last chunk with finish_reason (and the `deskpilot` object), the
    usage chunk when asked for, then [DONE]. A fallback model that starts over (a `reset`) cannot take back
    text already streamed: the last chunk then says so and carries the whole final reply."""
    yield writer.chunk({"role": "assistant", "content": ""})
    reset = False
    try:
        async for event in events:
            if event.kind == "token" and event.data:
                yield writer.chunk({"content": event.data})
            elif event.kind == "reset":
                reset = True
            elif event.kind == "final":
                result: TurnResult = event.data
                deskpilot = _extension(runtime, principal, result)
                if reset:
                    deskpilot = {**deskpilot, "reset": True, "content": result.reply}
                yield writer.chunk({}, "stop", deskpilot=deskpilot)
                if writer.include_usage:
                    yield writer.usage_chunk(result)
    except ApiError as error:
        yield sse(error_for(error.status_code, error.message, code=error.code).body())
    yield DONE
