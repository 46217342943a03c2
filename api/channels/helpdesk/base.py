"""What every helpdesk adapter provides (verify, parse, note back) and the signature helpers they share.

HelpdeskError      a delivery we refuse
 ├── Unauthorized  bad, missing or stale signature: 401 with no detail
 └── Malformed     the body is not what the provider sends: 400
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel
from starlette.datastructures import Headers

TIMESTAMP_WINDOW_S = 300.0  # a signed timestamp older or newer than this is refused (replay protection)
NOTE_MARKER = "[deskpilot:{delivery_id}]"  # ends every note: finds a note already posted, and breaks loops
_MARKER = re.compile(r"\[deskpilot:dlv_[0-9a-zA-Z_]+\]")


class HelpdeskError(Exception):
    pass


class Unauthorized(HelpdeskError):
    pass


class Malformed(HelpdeskError):
    pass


@dataclass(frozen=True)
class InboundTicket:
    """A customer message on a ticket, as the provider delivered it (raw: it still holds PII)."""

    ticket_id: str
    text: str
    subject: str = ""
    requester_email: str | None = None
    requester_name: str | None = None


@dataclass(frozen=True)
class NoteCall:
    """One HTTP call to the helpdesk's API."""

    method: str
    url: str
    json: Any = None
    auth: tuple[str, str] | None = None
    headers: dict[str, str] | None = None


class Helpdesk:
    """One provider's protocol. Subclasses set the class attributes and implement the four methods."""

    name: ClassVar[str]
    secret_name: ClassVar[str]  # the secret that verifies deliveries
    ticket_id_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^[0-9]{1,20}$")

    def verify(self, headers: Headers, raw: bytes, secrets: list[str], now: float) -> None:
        raise NotImplementedError

    def delivery_key(self, headers: Headers, raw: bytes) -> str:
        raise NotImplementedError

    def parse(self, raw: bytes, config: BaseModel) -> InboundTicket | None:
        """The customer message, or None for an event that needs no draft (an internal comment, our note)."""
        raise NotImplementedError

    def note_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str, note: Note) -> NoteCall:
        raise NotImplementedError

    def notes_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str) -> NoteCall | None:
        """A GET listing the ticket's notes, to tell whether an interrupted post went through; None when
        the provider has no such listing (the note call carries an Idempotency-Key instead)."""
        return None

    def note_bodies(self, response: Any) -> list[str]:
        return []

    def ticket_id(self, value: Any) -> str:
        text = str(value if value is not None else "").strip()
        if not self.ticket_id_pattern.match(text):
            raise Malformed("ticket id")
        return text


@dataclass(frozen=True)
class Note:
    """An internal note as posted: the text (holds PII restored for staff) and its structured parts."""

    delivery_id: str
    text: str
    structured: dict[str, Any]


# --- shared helpers ----------------------------------------------------------------------------------


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def matches_any(expected: list[bytes], given: bytes) -> bool:
    """Constant-time comparison against each acceptable value (current secret, then previous)."""
    found = False
    for value in expected:
        found |= hmac.compare_digest(value, given)
    return found


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def load_json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Malformed("not JSON") from None
    if not isinstance(data, dict):
        raise Malformed("not a JSON object")
    return data


def b64decode(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise Unauthorized() from None


def within_window(timestamp: float, now: float) -> bool:
    return abs(now - timestamp) <= TIMESTAMP_WINDOW_S


def text_of(value: Any) -> str:
    """Plain text of a string or an Atlassian document (ADF) node tree."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return str(value.get("text", ""))
        parts = [text_of(child) for child in value.get("content", []) or []]
        joiner = "\n" if value.get("type") in ("doc", "bulletList", "orderedList") else ""
        return joiner.join(parts)
    if isinstance(value, list):
        return "\n".join(text_of(v) for v in value)
    return str(value)


def is_our_note(text: str) -> bool:
    return bool(_MARKER.search(text))


def require_str(data: dict[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if optional:
            return None
        raise Malformed(key)
    if not isinstance(value, (str, int)):
        raise Malformed(key)
    return str(value)
