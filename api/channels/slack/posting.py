"""Posting to Slack once per step of a delivery: the delivery row records each post, and Slack's errors
become job errors (429 and 5xx retried, after `Retry-After` when Slack says; other refusals end the job).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlmodel import Session

from api.channels.slack import blocks
from api.channels.slack.app import CHANNEL
from api.deliveries import Delivery
from api.integrations import Integration
from api.jobs import DeadJob, RetryJob
from api.models import utcnow
from api.runtime import Runtime

if TYPE_CHECKING:  # slack_sdk loads with the first Slack client (api/channels/slack/app.py), not at start
    from slack_sdk.web.async_client import AsyncWebClient

POSTING = "posting"  # a post under way: its outcome is unknown until the ts is recorded


async def post_once(
    runtime: Runtime,
    delivery_id: str,
    step: str,
    client: AsyncWebClient,
    target: dict[str, Any],
    message: dict[str, Any],
) -> None:
    """Posts `message` once for this delivery's `step`, its ts recorded after.

    "posting" is recorded first and the message carries a marker in its metadata: a re-run that finds
    "posting" (the worker died, or Slack's answer was lost, mid-call) looks for the marker in the thread
    before posting again. Reading the thread needs the `*:history` scopes; without them it posts again.
    """
    recorded = delivery_row(runtime, delivery_id).result.get(step)
    if recorded is not None and recorded != POSTING:
        return
    marker = {"event_type": "deskpilot_post", "event_payload": {"delivery_id": delivery_id, "step": step}}
    if recorded == POSTING and (ts := await _find_marker(client, target, marker)):
        record(runtime, delivery_id, **{step: ts})
        return
    record(runtime, delivery_id, **{step: POSTING})
    answer = await call(
        client.chat_postMessage(
            channel=target["channel"],
            thread_ts=target.get("thread_ts") or None,
            unfurl_links=False,
            unfurl_media=False,
            metadata=marker,
            **message,
        )
    )
    record(runtime, delivery_id, **{step: answer.get("ts")})


async def _find_marker(client: AsyncWebClient, target: dict[str, Any], marker: dict[str, Any]) -> str | None:
    try:
        if target.get("thread_ts"):
            found = await call(
                client.conversations_replies(
                    channel=target["channel"], ts=target["thread_ts"], include_all_metadata=True, limit=200
                )
            )
        else:
            found = await call(
                client.conversations_history(channel=target["channel"], include_all_metadata=True, limit=100)
            )
    except DeadJob:
        return None  # e.g. missing_scope: posting again is the lesser evil than never answering
    for posted in found.get("messages") or []:
        if (posted.get("metadata") or {}).get("event_payload") == marker["event_payload"]:
            return str(posted["ts"])
    return None


async def ephemeral_once(
    runtime: Runtime, delivery_id: str, client: AsyncWebClient, payload: dict[str, Any], text: str
) -> None:
    if "ephemeral_ts" in delivery_row(runtime, delivery_id).result:
        return
    answer = await call(
        client.chat_postEphemeral(
            channel=payload["channel"],
            user=payload["user"],
            thread_ts=payload.get("thread_ts") or None,
            **blocks.notice_message(text),
        )
    )
    record(runtime, delivery_id, ephemeral_ts=answer.get("message_ts"))


async def call(request: Awaitable[Any]) -> Any:
    """One Web API call; Slack's answer mapped to retry-later or give-up (the messages hold no PII)."""
    from slack_sdk.errors import SlackApiError

    try:
        return await request
    except SlackApiError as error:
        status = error.response.status_code
        code = str(error.response.get("error") or "error")
        if status == 429 or code == "ratelimited":
            retry_after = error.response.headers.get("Retry-After") or error.response.headers.get(
                "retry-after"
            )
            raise RetryJob(f"slack answered 429 {code}", after_s=float(retry_after or 1)) from None
        if status >= 500 or code in ("internal_error", "fatal_error", "service_unavailable"):
            raise RetryJob(f"slack answered {status} {code}") from None
        raise DeadJob(f"slack refused the call: {code}") from None
    except (aiohttp.ClientError, TimeoutError) as error:
        raise RetryJob(f"slack unreachable ({type(error).__name__})") from None


# --- the delivery row ------------------------------------------------------------------------------------


def load(runtime: Runtime, payload: dict[str, Any]) -> tuple[Delivery, Integration]:
    integration = runtime.integrations.get(payload["integration_id"])
    if integration is None or integration.provider != CHANNEL:
        raise DeadJob("the Slack integration was removed")
    return delivery_row(runtime, payload["delivery_id"]), integration


def delivery_row(runtime: Runtime, delivery_id: str) -> Delivery:
    with Session(runtime.engine, expire_on_commit=False) as session:
        delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise DeadJob("the delivery of this job is missing")
    return delivery


def record(runtime: Runtime, delivery_id: str, **values: Any) -> dict[str, Any]:
    with Session(runtime.engine, expire_on_commit=False) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.result = {**delivery.result, **values}  # a new dict, so the JSON column is written
        session.add(delivery)
        session.commit()
        return dict(delivery.result)


def finish(runtime: Runtime, delivery_id: str, status: str) -> None:
    with Session(runtime.engine) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.status, delivery.finished_at = status, utcnow()
        session.add(delivery)
        session.commit()
