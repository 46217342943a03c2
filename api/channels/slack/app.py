"""One bolt `AsyncApp` per Slack integration: its listeners turn events and clicks into durable jobs.

Request -> (route: body cap, signature against every valid signing secret) -> bolt (url_verification,
auth.test, ignoring its own events, routing) -> a listener that records the delivery and enqueues its
job in one transaction -> 200. The work (the turn, the decision, every post) is done by
api.channels.slack.jobs.

Listeners run before bolt answers (`process_before_response=True`): the delivery is committed before
Slack sees the ack, so an ack never stands for work that a crash could lose.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.channels.slack import blocks
from api.deliveries import Delivery, add_delivery, find_delivery
from api.errors import ApiError
from api.integrations import Integration
from api.integrations.providers import SlackConfig
from api.runtime import Runtime

if TYPE_CHECKING:
    # slack-bolt, slack_sdk and aiohttp are about a tenth of the app's import time: they load when this
    # process first builds a Slack app or client (the first Slack request or job), not at start-up.
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

CHANNEL = "slack"
MAX_TEXT = 8_000


@dataclass(frozen=True)
class SlackApp:
    integration: Integration
    config: SlackConfig
    bolt: AsyncApp
    handler: AsyncSlackRequestHandler


class SlackApps:
    """The bolt apps of this process, by integration id; an app is rebuilt when its secrets or config
    change (a rotation), so a new bot token is used from the next request on."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._apps: dict[str, tuple[str, SlackApp]] = {}

    def get(self, integration: Integration) -> SlackApp:
        version = _version(integration)
        cached = self._apps.get(integration.id)
        if cached is not None and cached[0] == version:
            return cached[1]
        app = build_app(self.runtime, integration)
        self._apps[integration.id] = (version, app)
        return app


def _version(integration: Integration) -> str:
    state = json.dumps([integration.sealed_secrets, integration.config], sort_keys=True)
    return hashlib.sha256(state.encode()).hexdigest()


def web_client(runtime: Runtime, integration: Integration) -> AsyncWebClient:
    from slack_sdk.web.async_client import AsyncWebClient

    config = slack_config(runtime, integration)
    token = runtime.integrations.secrets(integration)["bot_token"]
    return AsyncWebClient(token=token, base_url=config.api_base_url)


def slack_config(runtime: Runtime, integration: Integration) -> SlackConfig:
    config = runtime.integrations.config(integration)
    assert isinstance(config, SlackConfig)
    return config


def thread_key(team: str, channel: str, thread_ts: str) -> str:
    """The conversation's external reference: a thread's ts is unique only within its channel."""
    return f"{team}:{channel}:{thread_ts}"


def build_app(runtime: Runtime, integration: Integration) -> SlackApp:
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    config = slack_config(runtime, integration)
    secrets = runtime.integrations.secrets(integration)
    bolt = AsyncApp(
        name=f"deskpilot-{integration.id}",
        client=AsyncWebClient(token=secrets["bot_token"], base_url=config.api_base_url),
        signing_secret=secrets["signing_secret"],
        # The route has verified the signature already, against the current signing secret and, during
        # a rotation's grace period, the previous one; bolt's own check knows only one secret and would
        # refuse Slack's requests signed with the other while the switch-over is under way.
        request_verification_enabled=False,
        process_before_response=True,
    )
    listeners = _Listeners(runtime, integration, config)
    bolt.event("app_mention")(listeners.on_mention)
    bolt.event("message")(listeners.on_message)
    bolt.action(re.compile(f"^({blocks.APPROVE}|{blocks.REJECT})$"))(listeners.on_decision)
    bolt.action(re.compile(f"^({blocks.FEEDBACK_UP}|{blocks.FEEDBACK_DOWN})$"))(listeners.on_feedback)
    return SlackApp(integration, config, bolt, AsyncSlackRequestHandler(bolt))


class _Listeners:
    def __init__(self, runtime: Runtime, integration: Integration, config: SlackConfig) -> None:
        self.runtime = runtime
        self.integration = integration
        self.tenant = integration.tenant
        self.config = config

    # --- events: a mention in a channel, a direct message --------------------------------------------

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        await self._receive(body, event, context.bot_user_id)

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        # In channels the copilot answers mentions only (those arrive as app_mention too); in a DM, all.
        if event.get("channel_type") == "im":
            await self._receive(body, event, context.bot_user_id)

    async def _receive(self, body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None) -> None:
        if event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return  # other bots, edits, joins: never a question for the copilot
        if self.config.mode == "alerts_only":
            return  # nothing typed in Slack reaches a conversation, so nothing can reach a customer
        event_id = str(body.get("event_id") or "")
        if not (event_id and event.get("channel") and event.get("ts")):
            return  # not an event Slack sends for a message
        if await run_in_threadpool(self._delivered, event_id):
            return  # a retry (X-Slack-Retry-Num) of an event already taken
        channel, user = str(event["channel"]), str(event["user"])
        thread_ts = str(event.get("thread_ts") or event["ts"])
        team = str(body.get("team_id") or event.get("team") or "")
        text = str(event.get("text") or "").replace(f"<@{bot_user_id}>", "").strip()[:MAX_TEXT]
        conversation, _ = await run_in_threadpool(
            lambda: self.runtime.conversations.open(
                tenant=self.tenant,
                channel=CHANNEL,
                external_id=thread_key(team, channel, thread_ts),
                actor=f"slack:{user}",
            )
        )
        # The job payload is stored: it carries the text with placeholders, never the raw values.
        redacted, _ = await self.runtime.conversations.redact(self.tenant, conversation.id, text)
        payload = {
            "integration_id": self.integration.id,
            "conversation_id": conversation.id,
            "channel": channel,
            "thread_ts": thread_ts,
            "user": user,
            "text": redacted,
        }
        await run_in_threadpool(
            self._accept,
            event_id,
            "slack.turn",
            payload,
            conversation.id,
            thread_key(team, channel, thread_ts),
        )

    # --- clicks: approve / reject, thumbs up / down -----------------------------------------------------

    async def on_decision(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        if not user:
            return
        channel = str((body.get("channel") or body.get("container") or {}).get("id") or "")
        message = body.get("message") or {}
        payload = {
            "integration_id": self.integration.id,
            "approval_id": str(action.get("value") or ""),
            "decision": "approve" if action["action_id"] == blocks.APPROVE else "reject",
            "user": user,
            "channel": channel,
            "message_ts": str(message.get("ts") or body.get("container", {}).get("message_ts") or ""),
            "thread_ts": str(message.get("thread_ts") or ""),
        }
        key = f"action:{user}:{action.get('action_ts') or body.get('trigger_id')}"
        if user not in self.config.approver_user_ids:
            # Nothing is decided: the click only earns its author a message that nobody else sees.
            payload["notice"] = "refused"
            await run_in_threadpool(self._accept, key, "slack.notice", payload, None, None)
            return
        await run_in_threadpool(self._accept, key, "slack.decide", payload, None, None)

    async def on_feedback(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        conversation_id, _, message_id = str(action.get("value") or "").partition(":")
        try:
            conversation = await run_in_threadpool(
                lambda: self.runtime.conversations.get(tenant=self.tenant, conversation_id=conversation_id)
            )
            if conversation.channel != CHANNEL:
                return
            await self.runtime.conversations.record_feedback(
                tenant=self.tenant,
                conversation_id=conversation_id,
                message_id=int(message_id) if message_id.isdigit() else None,
                rating="up" if action["action_id"] == blocks.FEEDBACK_UP else "down",
                reason=None,
                actor=f"slack:{(body.get('user') or {}).get('id')}",
                channel=CHANNEL,
            )
        except ApiError as error:
            log.info("slack feedback on %s ignored: %s", conversation_id, error.code)

    # --- the delivery and its job, in one transaction ----------------------------------------------

    def _delivered(self, key: str) -> bool:
        with Session(self.runtime.engine) as session:
            return find_delivery(session, integration_id=self.integration.id, delivery_key=key) is not None

    def _accept(
        self,
        key: str,
        kind: str,
        payload: dict[str, Any],
        conversation_id: str | None,
        external_id: str | None,
    ) -> bool:
        with Session(self.runtime.engine) as session:
            delivery = Delivery(
                tenant=self.tenant,
                integration_id=self.integration.id,
                provider=CHANNEL,
                delivery_key=key[:200],
                external_id=external_id,
                conversation_id=conversation_id,
            )
            if not add_delivery(session, delivery):
                session.rollback()
                return False
            job = self.runtime.jobs.enqueue(
                session,
                tenant=self.tenant,
                kind=kind,
                payload={**payload, "delivery_id": delivery.id},
                dedupe_key=f"{self.integration.id}:{key}"[:200],
            )
            delivery.job_id = job.id
            session.add(delivery)
            session.commit()
            return True
