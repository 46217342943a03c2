"""Conversations: create, send a message (JSON or Server-Sent Events), read the history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from sse_starlette.sse import EventSourceResponse

from agent.images import ImageError, ImageRef, ImageTooLarge, parse_image
from agent.turns import TurnResult
from api.auth import Principal
from api.deps import AdminKey, AgentKey, RuntimeDep
from api.errors import InvalidInput, PayloadTooLarge
from api.runtime import Runtime
from api.schemas import (
    CitationOut,
    ConversationCreate,
    ConversationCreated,
    ConversationOut,
    MessageCreate,
    MessageOut,
    ToolCallOut,
    TurnOut,
)
from api.settings import Settings

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


@router.post("", status_code=201, response_model=ConversationCreated)
def create_conversation(
    runtime: RuntimeDep, principal: AgentKey, body: ConversationCreate | None = None
) -> ConversationCreated:
    body = body or ConversationCreate()
    conversation = runtime.conversations.create(
        tenant=principal.tenant, customer_id=body.customer_id, channel=body.channel, actor=principal.key_id
    )
    return ConversationCreated(
        id=conversation.id,
        customer_id=conversation.customer_id,
        status=conversation.status,
        created_at=conversation.created_at,
    )


@router.post(
    "/{conversation_id}/messages",
    response_model=TurnOut,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def send_message(
    conversation_id: str,
    body: MessageCreate,
    request: Request,
    runtime: RuntimeDep,
    principal: AgentKey,
    redacted: bool = Query(False, description="Return the reply with placeholders instead of real values."),
) -> Any:
    if len(body.content) > runtime.settings.max_message_chars:
        raise PayloadTooLarge(
            f"content is {len(body.content)} characters; the limit is {runtime.settings.max_message_chars}"
        )
    # Fail fast (404, 400, 409) before a stream starts: errors after the first event cannot change the status.
    await runtime.conversations.check_can_send(
        tenant=principal.tenant, conversation_id=conversation_id, customer_id=body.customer_id
    )
    kwargs: dict[str, Any] = {
        "tenant": principal.tenant,
        "conversation_id": conversation_id,
        "text": body.content,
        "customer_id": body.customer_id,
        "actor": principal.key_id,
        "images": _images(body, runtime.settings),
    }
    if "text/event-stream" in request.headers.get("accept", ""):
        return EventSourceResponse(_events(runtime, principal, redacted, kwargs), ping=15)
    result = await runtime.conversations.send(**kwargs)
    return turn_out(result, runtime, principal, redacted)


def _images(body: MessageCreate, settings: Settings) -> tuple[ImageRef, ...]:
    if len(body.images) > settings.image_max_count:
        raise InvalidInput(f"at most {settings.image_max_count} images per message")
    refs = []
    for index, image in enumerate(body.images):
        try:
            refs.append(
                parse_image(
                    image.url,
                    detail=image.detail or settings.image_detail,
                    max_bytes=settings.image_max_bytes,
                )
            )
        except ImageTooLarge as error:
            raise PayloadTooLarge(f"images[{index}]: {error}") from None
        except ImageError as error:
            raise InvalidInput(f"images[{index}]: {error}") from None
    return tuple(refs)


async def _events(
    runtime: Runtime, principal: Principal, redacted: bool, kwargs: dict[str, Any]
) -> AsyncIterator[dict[str, str]]:
    async for event in runtime.conversations.stream(**kwargs):
        if event.kind == "token":
            if not redacted:
                yield {"event": "token", "data": json.dumps({"delta": event.data})}
        elif event.kind == "reset":
            if not redacted:
                yield {"event": "reset", "data": json.dumps(event.data)}
        elif event.kind == "tool":
            yield {
                "event": "tool_call",
                "data": json.dumps(
                    _tool_call(event.data, runtime, principal, redacted, kwargs["conversation_id"]),
                    default=str,
                ),
            }
        else:
            body = turn_out(event.data, runtime, principal, redacted)
            yield {"event": "final", "data": body.model_dump_json()}


@router.get("/{conversation_id}", response_model=ConversationOut)
def get_conversation(
    conversation_id: str, runtime: RuntimeDep, principal: AgentKey, redacted: bool = Query(False)
) -> ConversationOut:
    conversation = runtime.conversations.get(tenant=principal.tenant, conversation_id=conversation_id)
    rows = runtime.conversations.messages(
        tenant=principal.tenant, conversation_id=conversation_id, restore=_restore(principal, redacted)
    )
    return ConversationOut(
        id=conversation.id,
        customer_id=conversation.customer_id,
        status=conversation.status,
        handoff_reason=conversation.handoff_reason,
        created_at=conversation.created_at,
        messages=[
            MessageOut(role=r.role, content=r.content, created_at=r.created_at, meta=r.meta) for r in rows
        ],
    )


@router.delete("/{conversation_id}/pii")
def forget_personal_data(conversation_id: str, runtime: RuntimeDep, principal: AdminKey) -> dict[str, Any]:
    """Erases the conversation's PII vault: stored history keeps only placeholders, for good."""
    runtime.conversations.get(tenant=principal.tenant, conversation_id=conversation_id)
    deleted = (
        runtime.redactor.vault.delete_conversation(principal.tenant, conversation_id)
        if runtime.redactor
        else 0
    )
    runtime.audit.record(
        tenant=principal.tenant,
        type="pii.erased",
        actor=principal.key_id,
        conversation_id=conversation_id,
        payload={"vault_entries": deleted},
    )
    return {"conversation_id": conversation_id, "vault_entries_deleted": deleted}


@router.post("/{conversation_id}/handback", response_model=ConversationCreated)
def handback(conversation_id: str, runtime: RuntimeDep, principal: AgentKey) -> ConversationCreated:
    """Returns a conversation from a human back to the copilot."""
    conversation = runtime.conversations.handback(
        tenant=principal.tenant, conversation_id=conversation_id, actor=principal.key_id
    )
    return ConversationCreated(
        id=conversation.id,
        customer_id=conversation.customer_id,
        status=conversation.status,
        created_at=conversation.created_at,
    )


def turn_out(result: TurnResult, runtime: Runtime, principal: Principal, redacted: bool) -> TurnOut:
    restore = _restore(principal, redacted)
    conversation = runtime.conversations.get(tenant=principal.tenant, conversation_id=result.conversation_id)
    return TurnOut(
        conversation_id=result.conversation_id,
        reply=result.reply if restore else result.reply_redacted,
        citations=[CitationOut(**c) for c in result.citations],
        tool_calls=[
            ToolCallOut(**_tool_call(c, runtime, principal, redacted, result.conversation_id))
            for c in result.tool_calls
        ],
        model=result.model,
        degraded=result.degraded,
        usage=result.usage,
        redactions=result.redactions,
        pending_approval=result.pending_approval,
        status=conversation.status,
    )


def _tool_call(
    call: dict[str, Any], runtime: Runtime, principal: Principal, redacted: bool, conversation_id: str
) -> dict[str, Any]:
    if not _restore(principal, redacted) or runtime.redactor is None:
        return call
    scope = {"tenant": principal.tenant, "conversation_id": conversation_id}
    return {
        **call,
        "args": runtime.redactor.restore_value(call["args"], **scope),
        "result": runtime.redactor.restore_value(call["result"], **scope),
    }


def _restore(principal: Principal, redacted: bool) -> bool:
    """Staff and integrations get real values unless they ask for the redacted form."""
    return not redacted
