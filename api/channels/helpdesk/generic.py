"""Any system: Stripe-style `Deskpilot-Signature: t=<unix>,v1=<hex>`; results POSTed back signed alike."""

from __future__ import annotations

import json
import re
import time

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
    hmac_sha256,
    is_our_note,
    load_json,
    matches_any,
    require_str,
    within_window,
)
from api.integrations.providers import GenericConfig

SIGNATURE = "Deskpilot-Signature"


def sign(secret: str, raw: bytes, timestamp: int | None = None) -> str:
    """The header value for `raw`, as senders and our callbacks compute it."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={hmac_sha256(secret, f'{t}.'.encode() + raw).hex()}"


def _parts(header: str) -> tuple[str, list[str]]:
    timestamp, signatures = "", []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    return timestamp, signatures


class Generic(Helpdesk):
    name = "generic"
    secret_name = "secret"
    ticket_id_pattern = re.compile(r"^[A-Za-z0-9._:#-]{1,100}$")

    def verify(self, headers: Headers, raw: bytes, secrets: list[str], now: float) -> None:
        timestamp, signatures = _parts(headers.get(SIGNATURE, ""))
        if not timestamp.isdigit() or not signatures or not within_window(float(timestamp), now):
            raise Unauthorized()
        expected = [hmac_sha256(secret, f"{timestamp}.".encode() + raw) for secret in secrets]
        for signature in signatures:
            try:
                if matches_any(expected, bytes.fromhex(signature)):
                    return
            except ValueError:
                continue
        raise Unauthorized()

    def delivery_key(self, headers: Headers, raw: bytes) -> str:
        timestamp, _ = _parts(headers.get(SIGNATURE, ""))
        return f"ts:{timestamp}:{body_hash(raw)}"

    def parse(self, raw: bytes, config: BaseModel) -> InboundTicket | None:
        data = load_json(raw)
        requester = data.get("requester") or {}
        if not isinstance(requester, dict):
            raise Malformed("requester")
        text = require_str(data, "text")
        assert text is not None
        if is_our_note(text):
            return None
        return InboundTicket(
            ticket_id=self.ticket_id(data.get("ticket_id")),
            subject=require_str(data, "subject", optional=True) or "",
            text=text,
            requester_email=require_str(requester, "email", optional=True),
            requester_name=require_str(requester, "name", optional=True),
        )

    def note_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str, note: Note) -> NoteCall:
        body = {"delivery_id": note.delivery_id, "ticket_id": ticket_id, "note": note.text, **note.structured}
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            SIGNATURE: sign(secrets["secret"], raw),
            "Idempotency-Key": note.delivery_id,  # the receiver drops a second post of one delivery
            "Content-Type": "application/json",
        }
        return NoteCall("POST", str(_cfg(config).callback_url), raw, None, headers)


def _cfg(config: BaseModel) -> GenericConfig:
    if not isinstance(config, GenericConfig):
        raise TypeError("config of another provider")
    return config
