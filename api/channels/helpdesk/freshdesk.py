"""Freshdesk: unsigned webhooks carry our secret token in `X-Deskpilot-Token`; notes are private notes."""

from __future__ import annotations

import html
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
    body_hash,
    is_our_note,
    load_json,
    matches_any,
    require_str,
)
from api.integrations.providers import FreshdeskConfig

TOKEN = "X-Deskpilot-Token"


class Freshdesk(Helpdesk):
    name = "freshdesk"
    secret_name = "token"

    def verify(self, headers: Headers, raw: bytes, secrets: list[str], now: float) -> None:
        token = headers.get(TOKEN)
        if not token or not matches_any([s.encode() for s in secrets], token.encode()):
            raise Unauthorized()

    def delivery_key(self, headers: Headers, raw: bytes) -> str:
        return f"body:{body_hash(raw)}"  # Freshdesk sends neither a delivery id nor a timestamp

    def parse(self, raw: bytes, config: BaseModel) -> InboundTicket | None:
        data = load_json(raw)
        ticket = data.get("freshdesk_webhook", data)
        if not isinstance(ticket, dict):
            raise Malformed("freshdesk_webhook")
        text = (
            require_str(ticket, "ticket_latest_public_comment", optional=True)
            or require_str(ticket, "ticket_description", optional=True)
            or ""
        )
        if not text.strip() or is_our_note(text):
            return None
        return InboundTicket(
            ticket_id=self.ticket_id(ticket.get("ticket_id")),
            subject=require_str(ticket, "ticket_subject", optional=True) or "",
            text=text,
            requester_email=require_str(ticket, "ticket_contact_email", optional=True),
            requester_name=require_str(ticket, "ticket_contact_name", optional=True),
        )

    def note_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str, note: Note) -> NoteCall:
        body = html.escape(note.text).replace("\n", "<br>")  # a Freshdesk note body is HTML
        url = f"{_cfg(config).base_url}/api/v2/tickets/{ticket_id}/notes"
        return NoteCall("POST", url, {"body": body, "private": True}, (secrets["api_key"], "X"))

    def notes_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str) -> NoteCall:
        url = f"{_cfg(config).base_url}/api/v2/tickets/{ticket_id}/conversations"
        return NoteCall("GET", url, auth=(secrets["api_key"], "X"))

    def note_bodies(self, response: Any) -> list[str]:
        items = response if isinstance(response, list) else []
        return [str(c.get("body_text") or c.get("body") or "") for c in items if isinstance(c, dict)]


def _cfg(config: BaseModel) -> FreshdeskConfig:
    if not isinstance(config, FreshdeskConfig):
        raise TypeError("config of another provider")
    return config
