"""Deliveries signed the way each provider documents it, for the tests and the benchmark."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from api.channels.helpdesk.generic import sign as generic_sign


def zendesk(
    secret: str, body: dict[str, Any] | bytes, *, at: float | None = None, invocation: str | None = "auto"
) -> tuple[bytes, dict[str, str]]:
    """base64(HMAC-SHA256(secret, timestamp + body)), the timestamp in ISO 8601 UTC."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = datetime.fromtimestamp(time.time() if at is None else at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + raw, hashlib.sha256).digest())
    headers = {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": signature.decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }
    if invocation:
        headers["X-Zendesk-Webhook-Invocation-Id"] = uuid.uuid4().hex if invocation == "auto" else invocation
    return raw, headers


def zendesk_ticket(
    ticket_id: int, comment: str, *, email: str = "maria.garcia@example.com", name: str = "Maria Garcia"
) -> dict[str, Any]:
    """The body of the trigger template the README documents."""
    return {
        "ticket": {
            "id": str(ticket_id),
            "subject": "Question about my order",
            "comment": comment,
            "requester": {"name": name, "email": email},
        }
    }


def jira(secret: str, body: dict[str, Any], *, identifier: str | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
        "X-Atlassian-Webhook-Identifier": identifier or uuid.uuid4().hex,
    }
    return raw, headers


def jira_comment(
    key: str, text: str, *, public: bool = True, email: str = "maria.garcia@example.com"
) -> dict[str, Any]:
    return {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": "comment_created",
        "comment": {
            "id": "10001",
            "body": text,
            "jsdPublic": public,
            "author": {"emailAddress": email, "displayName": "Maria Garcia"},
        },
        "issue": {
            "key": key,
            "fields": {"summary": "Help with my order", "reporter": {"emailAddress": email}},
        },
    }


def jira_issue(key: str, text: str, *, email: str = "maria.garcia@example.com") -> dict[str, Any]:
    return {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": "jira:issue_created",
        "issue": {
            "key": key,
            "fields": {
                "summary": "Help with my order",
                "description": text,
                "reporter": {"emailAddress": email, "displayName": "Maria Garcia"},
            },
        },
    }


def freshdesk(token: str, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return json.dumps(body).encode(), {"Content-Type": "application/json", "X-Deskpilot-Token": token}


def freshdesk_ticket(ticket_id: int, text: str, *, email: str = "maria.garcia@example.com") -> dict[str, Any]:
    return {
        "freshdesk_webhook": {
            "ticket_id": ticket_id,
            "ticket_subject": "Order question",
            "ticket_latest_public_comment": text,
            "ticket_contact_email": email,
            "ticket_contact_name": "Maria Garcia",
        }
    }


def generic(secret: str, body: dict[str, Any], *, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", "Deskpilot-Signature": generic_sign(secret, raw, at)}
