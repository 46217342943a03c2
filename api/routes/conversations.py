"""Conversations: create or find, send a message or ask for a draft (JSON or Server-Sent Events), record
staff replies and notes, retry a failed turn, read the history. Each route calls the conversation service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from agent.images import ImageError, ImageRef, ImageTooLarge, parse_image
from agent.turns import TurnEvent, TurnResult
from api.auth import Principal
from api.deps import AdminKey, AgentKey, RuntimeDep
from api.errors import ApiError, InvalidInput, PayloadTooLarge, error_body
from api.limits import TurnSlot
from api.models import Conversation
from api.runtime import Runtime
from api.schemas import (
    CONVERSATION_LINKS,
    TURN_LINKS,
    CitationOut,
    ConversationCreate,
    ConversationCreated,
    ConversationOut,
    MessageCreate,
    MessageOut,
    StaffMessageCreate,
    StaffMessageOut,
    ToolCallOut,
    TurnInfo,
    TurnOut,
)
from api.settings import Settings

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


@router.post(
    "",
    status_code=201,
    response_model=ConversationCreated,
    responses={200: {"model": ConversationCreated, **CONVERSATION_LINKS}, 201: CONVERSATION_LINKS},
)
def create_conversation(
    response: Response, runtime: RuntimeDep, principal: AgentKey, body: ConversationCreate | None = None
) -> ConversationCreated:
    """With `external_id` (a ticket or a thread) the same reference always finds the same conversation."""
    body = body or ConversationCreate()
    if body.external_id is None:
        conversation, created = (
            runtime.conversations.create(
                tenant=principal.tenant,
                customer_id=body.customer_id,
                channel=body.channel,
                actor=principal.key_id,
            ),
            True,
        )
    else:
        conversation, created = runtime.conversations.open(
            tenant=principal.tenant,
            channel=body.channel,
            external_id=body.external_id,
            customer_id=body.customer_id,
            actor=principal.key_id,
        )
    if not created:
        response.status_code = 200
    return conversation_created(conversation, created=created)


def conversation_created(conversation: Conversation, *, created: bool = True) -> ConversationCreated:
    return ConversationCreated(
        id=conversation.id,
        customer_id=conversation.customer_id,
        status=conversation.status,
        created_at=conversation.created_at,
        channel=conversation.channel,
        external_id=conversation.external_id,
        created=created,
    )


@router.post(
    "/{conversation_id}/messages",
    response_model=TurnOut,
    dependencies=[TurnSlot],
    responses={200: {"content": {"text/event-stream": {}}, **TURN_LINKS}},
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
        events = runtime.conversations.stream(**kwargs)
        return EventSourceResponse(_events(events, runtime, principal, redacted, conversation_id), ping=15)
    result = await runtime.conversations.send(**kwargs)
    return turn_out(result, runtime, principal, redacted)


@router.post(
    "/{conversation_id}/draft",
    response_model=TurnOut,
    dependencies=[TurnSlot],
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def suggest_reply(
    conversation_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: AgentKey,
    redacted: bool = Query(False, description="Return the draft with placeholders instead of real values."),
) -> Any:
    """A suggested reply to the customer's latest message, for staff to review; nothing is sent or done."""
    await runtime.conversations.check_can_send(
        tenant=principal.tenant, conversation_id=conversation_id, customer_id=None
    )
    kwargs: dict[str, Any] = {
        "tenant": principal.tenant,
        "conversation_id": conversation_id,
        "actor": principal.key_id,
        "channel": "api",
    }
    if "text/event-stream" in request.headers.get("accept", ""):
        events = runtime.conversations.stream_draft(**kwargs)
        return EventSourceResponse(_events(events, runtime, principal, redacted, conversation_id), ping=15)
    return turn_out(await runtime.conversations.draft(**kwargs), runtime, principal, redacted)


@router.post("/{conversation_id}/staff-messages", status_code=201, response_model=StaffMessageOut)
async def add_staff_message(
    conversation_id: str, body: StaffMessageCreate, runtime: RuntimeDep, principal: AgentKey
) -> StaffMessageOut:
    """A reply a human sent the customer (`staff`) or an internal note (`note`); the copilot reads both
    from the next turn on, and never takes them for the customer's words."""
    message = await runtime.conversations.add_staff_message(
        tenant=principal.tenant,
        conversation_id=conversation_id,
        text=body.content,
        kind=body.kind,
        author=principal.key_id,
    )
    assert message.id is not None
    return StaffMessageOut(
        id=message.id, role=message.role, author=message.author, created_at=message.created_at
    )


@router.post("/{conversation_id}/turns/{turn_id}/retry", response_model=TurnOut, dependencies=[TurnSlot])
async def retry_turn(
    conversation_id: str,
    turn_id: str,
    runtime: RuntimeDep,
    principal: AgentKey,
    redacted: bool = Query(False),
) -> TurnOut:
    """Runs a failed turn again (its message was kept); tool calls it already made are not redone."""
    result = await runtime.conversations.retry_turn(
        tenant=principal.tenant, conversation_id=conversation_id, turn_id=turn_id, actor=principal.key_id
    )
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
    events: AsyncIterator[TurnEvent],
    runtime: Runtime,
    principal: Principal,
    redacted: bool,
    conversation_id: str,
) -> AsyncIterator[dict[str, str]]:
    """Translates turn events to SSE; a failure after the stream started arrives as an `error` event."""
    try:
        async for event in _sse(events, runtime, principal, redacted, conversation_id):
            yield event
    except ApiError as error:
        yield {"event": "error", "data": json.dumps(error_body(error.code, error.message, **error.details))}


async def _sse(
    events: AsyncIterator[TurnEvent],
    runtime: Runtime,
    principal: Principal,
    redacted: bool,
    conversation_id: str,
) -> AsyncIterator[dict[str, str]]:
    async for event in events:
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
                    _tool_call(event.data, runtime, principal, redacted, conversation_id),
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
    turns = runtime.conversations.turns.of_conversation(principal.tenant, conversation_id)
    return ConversationOut(
        id=conversation.id,
        customer_id=conversation.customer_id,
        status=conversation.status,
        handoff_reason=conversation.handoff_reason,
        channel=conversation.channel,
        external_id=conversation.external_id,
        created_at=conversation.created_at,
        messages=[MessageOut.model_validate(r, from_attributes=True) for r in rows],
        turns=[TurnInfo.model_validate(t, from_attributes=True) for t in turns],
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
    return conversation_created(conversation, created=False)


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
        degraded_reason=degraded_reason(result),
        usage=result.usage,
        redactions=result.redactions,
        pending_approval=result.pending_approval,
        status=conversation.status,
        turn_id=result.turn_id,
        message_id=result.message_id,
        draft=result.draft,
    )


def degraded_reason(result: TurnResult) -> str | None:
    """The knowledge base's outage (set by api.fail_soft_kb), else the model's (the offline engine)."""
    if result.degraded_reason:
        return result.degraded_reason
    return "model_unavailable" if result.degraded else None


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
