"""Request and response bodies of the HTTP API (the tables live in api.models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    channel: str = Field(default="api", pattern=r"^[a-z_]{1,32}$")
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The ticket id or thread this conversation belongs to; the same one finds it again.",
    )


class ConversationCreated(BaseModel):
    id: str
    customer_id: str | None
    status: str
    created_at: datetime
    channel: str = "api"
    external_id: str | None = None
    created: bool = True  # False when an external_id found an existing conversation


class StaffMessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=20_000)
    kind: Literal["staff", "note"] = Field(
        default="note", description="staff: a reply a human sent the customer; note: internal, never shown."
    )

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must not be blank")
        return value


class StaffMessageOut(BaseModel):
    id: int
    role: str
    author: str | None
    created_at: datetime


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(min_length=1, max_length=64)
    message_id: int | None = Field(default=None, ge=1, le=2**62, description="Default: the latest reply.")
    rating: Literal["up", "down"]
    reason: str | None = Field(default=None, max_length=500)
    channel: str = Field(default="api", pattern=r"^[a-z_]{1,32}$")


class FeedbackOut(BaseModel):
    id: int
    conversation_id: str
    message_id: int | None
    rating: str
    created_at: datetime


class TurnInfo(BaseModel):
    id: str
    kind: str
    status: str
    channel: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class ImageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=12, description="https URL, or a base64 data URL of a png/jpeg/gif/webp image."
    )
    detail: Literal["low", "high", "auto"] | None = None


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1)
    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    images: list[ImageIn] = Field(default_factory=list, max_length=10)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must not be blank")
        return value


class ToolCallOut(BaseModel):
    name: str
    args: dict[str, Any]
    status: str  # ok | error | pending_approval
    result: Any = None


class CitationOut(BaseModel):
    chunk_id: str
    document_id: str
    title: str
    section: str | None = None
    source: str | None = None
    n: int | None = None  # the [n] marker in the reply


class TurnOut(BaseModel):
    conversation_id: str
    reply: str
    citations: list[CitationOut]
    tool_calls: list[ToolCallOut]
    model: str
    degraded: bool
    # Why: `model_unavailable` (the offline engine answered) or `knowledge_base_unavailable` (no passages).
    degraded_reason: str | None = None
    usage: dict[str, Any]
    redactions: dict[str, int]
    pending_approval: str | None = None
    status: str = "active"
    turn_id: str | None = None
    message_id: int | None = None  # the stored reply, for feedback
    draft: bool = False  # a suggestion for staff, not sent to the customer


class MessageOut(BaseModel):
    id: int | None = None
    role: str  # customer | assistant | staff | note
    author: str | None = None
    turn_id: str | None = None
    content: str
    created_at: datetime
    meta: dict[str, Any] = {}


class ConversationOut(BaseModel):
    id: str
    customer_id: str | None
    status: str
    handoff_reason: str | None
    channel: str = "api"
    external_id: str | None = None
    created_at: datetime
    messages: list[MessageOut]
    turns: list[TurnInfo] = []


class AuditEventOut(BaseModel):
    seq: int
    type: str
    actor: str | None
    conversation_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    hash: str


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, max_length=1000)


class ApprovalOut(BaseModel):
    id: str
    conversation_id: str
    customer_id: str | None
    tool: str
    args: dict[str, Any]
    checks: list[str]
    status: str
    requested_by: str | None
    decided_by: str | None
    decision_note: str | None
    result: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime | None = None
    decided_at: datetime | None
    executed_at: datetime | None


class ApprovalDecided(BaseModel):
    approval: ApprovalOut
    reply: TurnOut | None  # what the customer is told once the paused turn resumes


def links(**targets: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """OpenAPI links of one response: name -> (operationId, {parameter: runtime expression}). They tell a
    client (and schemathesis' stateful runs in `make soak`) which call uses the id this answer returns."""
    return {
        "links": {
            name: {"operationId": operation, "parameters": parameters}
            for name, (operation, parameters) in targets.items()
        }
    }


_CONVERSATION = {"conversation_id": "$response.body#/id"}
CONVERSATION_LINKS = links(
    GetConversation=("get_conversation_v1_conversations__conversation_id__get", _CONVERSATION),
    SendMessage=("send_message_v1_conversations__conversation_id__messages_post", _CONVERSATION),
    SuggestReply=("suggest_reply_v1_conversations__conversation_id__draft_post", _CONVERSATION),
    AddStaffMessage=(
        "add_staff_message_v1_conversations__conversation_id__staff_messages_post",
        _CONVERSATION,
    ),
    Handback=("handback_v1_conversations__conversation_id__handback_post", _CONVERSATION),
    ForgetPersonalData=("forget_personal_data_v1_conversations__conversation_id__pii_delete", _CONVERSATION),
)
_APPROVAL = {"approval_id": "$response.body#/pending_approval"}
_TURN = {"conversation_id": "$response.body#/conversation_id", "turn_id": "$response.body#/turn_id"}
TURN_LINKS = links(
    RetryTurn=("retry_turn_v1_conversations__conversation_id__turns__turn_id__retry_post", _TURN),
    GetConversation=(
        "get_conversation_v1_conversations__conversation_id__get",
        {"conversation_id": "$response.body#/conversation_id"},
    ),
    DraftUsed=(
        "draft_used_v1_conversations__conversation_id__drafts__message_id__used_post",
        {"conversation_id": "$response.body#/conversation_id", "message_id": "$response.body#/message_id"},
    ),
    GetApproval=("get_approval_v1_approvals__approval_id__get", _APPROVAL),
    Decide=("decide_v1_approvals__approval_id__post", _APPROVAL),
)
