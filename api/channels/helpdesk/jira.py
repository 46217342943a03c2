"""Jira Service Management: webhooks signed `X-Hub-Signature: sha256=<hex>`; notes are internal comments."""

from __future__ import annotations

import re
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
    hmac_sha256,
    is_our_note,
    load_json,
    matches_any,
    text_of,
)
from api.integrations.providers import JiraConfig

SIGNATURE = "X-Hub-Signature"
IDENTIFIER = "X-Atlassian-Webhook-Identifier"  # the same on every retry of one delivery


class Jira(Helpdesk):
    name = "jira"
    secret_name = "webhook_secret"
    ticket_id_pattern = re.compile(r"^[A-Z][A-Z0-9_]{0,30}-[0-9]{1,12}$")

    def verify(self, headers: Headers, raw: bytes, secrets: list[str], now: float) -> None:
        signature = headers.get(SIGNATURE, "")
        method, _, digest = signature.partition("=")
        if method != "sha256" or not digest:
            raise Unauthorized()
        try:
            given = bytes.fromhex(digest)
        except ValueError:
            raise Unauthorized() from None
        if not matches_any([hmac_sha256(secret, raw) for secret in secrets], given):
            raise Unauthorized()

    def delivery_key(self, headers: Headers, raw: bytes) -> str:
        identifier = headers.get(IDENTIFIER)
        return f"id:{identifier[:150]}" if identifier else f"body:{body_hash(raw)}"

    def parse(self, raw: bytes, config: BaseModel) -> InboundTicket | None:
        data = load_json(raw)
        event = data.get("webhookEvent")
        issue = data.get("issue")
        if not isinstance(issue, dict) or not isinstance(issue.get("fields", {}), dict):
            raise Malformed("issue")
        fields = issue.get("fields") or {}
        reporter = fields.get("reporter") or {}
        if event == "jira:issue_created":
            text, author = text_of(fields.get("description")), reporter
        elif event == "comment_created":
            comment = data.get("comment")
            if not isinstance(comment, dict):
                raise Malformed("comment")
            if comment.get("jsdPublic") is False:
                return None  # an internal comment: staff talking to staff
            text, author = text_of(comment.get("body")), comment.get("author") or {}
            if _email(author) and _email(author) == getattr(config, "email", None):
                return None  # our own account
        elif isinstance(event, str):
            return None  # updates, deletions: nothing to draft
        else:
            raise Malformed("webhookEvent")
        if not text.strip() or is_our_note(text):
            return None
        return InboundTicket(
            ticket_id=self.ticket_id(issue.get("key")),
            subject=str(fields.get("summary") or ""),
            text=text,
            requester_email=_email(author) or _email(reporter),
            requester_name=(author.get("displayName") if isinstance(author, dict) else None) or None,
        )

    def note_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str, note: Note) -> NoteCall:
        url = f"{_cfg(config).base_url}/rest/servicedeskapi/request/{ticket_id}/comment"
        return NoteCall("POST", url, {"body": note.text, "public": False}, _auth(config, secrets))

    def notes_call(self, config: BaseModel, secrets: dict[str, str], ticket_id: str) -> NoteCall:
        url = f"{_cfg(config).base_url}/rest/servicedeskapi/request/{ticket_id}/comment?public=false"
        return NoteCall("GET", url, auth=_auth(config, secrets))

    def note_bodies(self, response: Any) -> list[str]:
        return [str(c.get("body", "")) for c in (response or {}).get("values", []) if isinstance(c, dict)]


def _email(person: Any) -> str | None:
    value = person.get("emailAddress") if isinstance(person, dict) else None
    return str(value) if value else None


def _auth(config: BaseModel, secrets: dict[str, str]) -> tuple[str, str]:
    return str(_cfg(config).email), secrets["api_token"]


def _cfg(config: BaseModel) -> JiraConfig:
    if not isinstance(config, JiraConfig):
        raise TypeError("config of another provider")
    return config
