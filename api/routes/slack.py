"""Slack's request URL of one integration: Events API and interactivity, handed to its bolt app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request, Response

from api.channels.slack.alerts import alerts_sweeper
from api.channels.slack.app import CHANNEL, SlackApps
from api.deps import RuntimeDep
from api.errors import ApiError, NotFoundError, PayloadTooLarge
from api.integrations import Integration
from api.limits import LimitsDep
from api.runtime import Runtime


class BadSignature(ApiError):
    status_code = 401
    code = "unauthorized"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the app's lifespan (FastAPI merges router lifespans after it), so the runtime exists."""
    runtime: Runtime = app.state.runtime
    app.state.slack_apps = SlackApps(runtime)
    async with alerts_sweeper(runtime):
        yield


router = APIRouter(prefix="/v1/slack", tags=["slack"], lifespan=lifespan)


def get_slack_apps(request: Request) -> SlackApps:
    apps: SlackApps = request.app.state.slack_apps
    return apps


SlackAppsDep = Annotated[SlackApps, Depends(get_slack_apps)]


@router.post("/{integration_id}/events", response_class=Response)
async def slack_events(
    integration_id: str, request: Request, runtime: RuntimeDep, apps: SlackAppsDep, limits: LimitsDep
) -> Response:
    """Events (`app_mention`, `message.im`, `url_verification`) and button clicks, signed by Slack.
    Past the integration's or one Slack user's deliveries a minute: 429 with Retry-After (Slack retries)."""
    integration = runtime.integrations.get(integration_id)
    if integration is None or integration.provider != CHANNEL:
        raise NotFoundError(f"integration {integration_id} not found")
    body = await _capped_body(request, runtime.settings.slack_max_body_bytes)
    _verify(runtime, integration, request, body)
    limits.check_delivery(integration.id, _sender(body))
    return await apps.get(integration).handler.handle(request)


def _sender(body: bytes) -> str | None:
    """The Slack user behind an event (JSON) or a button click (form field `payload`); None if unknown."""
    try:
        if body[:1] == b"{":
            event = json.loads(body).get("event") or {}
            user = event.get("user")
        else:
            form = parse_qs(body.decode())
            user = (json.loads(form["payload"][0]).get("user") or {}).get("id") if "payload" in form else None
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    return user if isinstance(user, str) else None


def _verify(runtime: Runtime, integration: Integration, request: Request, body: bytes) -> None:
    """Slack's `v0` HMAC over timestamp and body, within 5 minutes, with any signing secret valid now."""
    from slack_sdk.signature import SignatureVerifier  # slack_sdk loads on the first Slack request

    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not timestamp.isdigit():
        raise BadSignature("missing or malformed Slack request timestamp")
    for secret in runtime.integrations.verification_secrets(integration, "signing_secret"):
        if SignatureVerifier(secret).is_valid(body, timestamp, signature):
            return
    raise BadSignature("invalid Slack signature or stale timestamp")


async def _capped_body(request: Request, limit: int) -> bytes:
    if int(request.headers.get("content-length") or 0) > limit:
        raise PayloadTooLarge(f"a Slack request is at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"a Slack request is at most {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    # The stream is consumed; bolt's adapter reads the body through `request.body()`, which returns this.
    request._body = body
    return body
