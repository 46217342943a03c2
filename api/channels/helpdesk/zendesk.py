"""Zendesk: webhooks signed base64(HMAC-SHA256(secret, timestamp + body)); notes are private comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import Headers

from api.channels.helpdesk.base import (
    Helpdesk,
    InboundTicket,
    Malformed,
    Note,
    NoteCall,
    Unauthorized,
    b64decode,
    body_hash,
    hmac_sha256,
    is_our_note,
    load_json,
    matches_any,
    require_str,
    within_window,
)
from api.integrations.providers import ZendeskConfig

SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION = "X-Zendesk-Webhook-Invocation-Id"
ZENDESK_PRIORITIES = {"urgent": "urgent", "high": "high", "normal": "normal", "low": "low"}


class Zendesk(Helpdesk):
    name = "zendesk"
    secret_name = "signing_secret"

    def verify(self, headers: Headers, raw: bytes, secrets: list[str], now: float) -> None:
        signature, timestamp = headers.get(SIGNATURE), headers.get(TIMESTAMP)
        if not signature or not timestamp:
            raise Unauthorized()
        try:
            sent_at = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise Unauthorized() from None
        if not within_window(sent_at, now):
            raise Unauthorized()
        expected = [hmac_sha256(secret, timestamp.encode() + raw) for secret in secrets]
        if not matches_any(expected, b64decode(signature)):
            raise Unauthorized()

    def delivery_key(self, headers: Headers, raw: bytes) -> str:
        invocation = headers.get(INVOCATION)
        if invocation:
            return f"inv:{invocation[:150]}"
        return f"ts:{headers.get(TIMESTAMP, '')}:{body_hash(raw)}"

    def parse(self, raw: bytes, config: BaseModel) -> InboundTicket | None:
        ticket = load_json(raw).get("ticket")
        if not isinstance(ticket, dict):
            raise Malformed("ticket")
        requester = ticket.get("requester") or {}
        if not isinstance(requester, dict):
            raise Malformed("ticket.requester")
        text = require_str(ticket, "comment", optional=True) or ""
        if not text.strip() or is_our_note(text):
            return None
        return InboundTicket(
            ticket_id=self.ticket_id(ticket.get("id")),
            subject=require_str(ticket, "subject", optional=True) or "",
            text=text,
            requester_email=require_str(requester, "email", optional=True),
            requester_name=require_str(requester, "name", optional=True),
        )

    def note_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str, note: Note) -> NoteCall:
        body: dict[str, Any] = {"comment": {"body": note.text, "public": False}}
        priority = (note.structured.get("triage") or {}).get("priority")
        if _cfg(config).set_priority and priority in ZENDESK_PRIORITIES:
            body["priority"] = ZENDESK_PRIORITIES[priority]
        return NoteCall(
            "PUT",
            f"{_base(config)}/api/v2/tickets/{ticket_id}.json",
            {"ticket": body},
            _auth(config, secrets),
        )

    def notes_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str) -> NoteCall:
        return NoteCall(
            "GET",
            f"{_base(config)}/api/v2/tickets/{ticket_id}/comments.json?sort_order=desc",
            auth=_auth(config, secrets),
        )

    def note_bodies(self, response: Any) -> list[str]:
        return [str(c.get("body", "")) for c in (response or {}).get("comments", []) if isinstance(c, dict)]


def _base(config: BaseModel) -> str:
    return str(_cfg(config).base_url)


def _auth(config: BaseModel, secrets: dict[str, str]) -> tuple[str, str]:
    return f"{_cfg(config).email}/token", secrets["api_token"]


def _cfg(config: BaseModel) -> ZendeskConfig:
    if not isinstance(config, ZendeskConfig):
        raise TypeError("config of another provider")
    return config
