"""Chat models: gpt-4o over any OpenAI-compatible endpoint, a fallback chain, the offline engine last.

Each link has a circuit breaker: after repeated failures its calls skip straight to the next link until
the breaker half-opens and a trial call succeeds. The offline engine never fails, so a turn always gets
an answer, labelled with the model that produced it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import Runnable

from agent.breaker import CircuitBreaker
from agent.deadline import budget
from agent.offline import OFFLINE_MODEL_NAME, OfflineChatModel
from agent.spans import failed, model_span, record_reply

log = logging.getLogger(__name__)

# What a network model leaves of the turn's deadline for the offline engine and the rest of the turn.
OFFLINE_RESERVE_S = 3.0


@dataclass
class ModelLink:
    name: str  # the model id we asked for, used as the reply's label
    model: Runnable[Any, Any]  # a chat model with tools bound
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)


def openai_chat_model(
    model: str,
    *,
    api_key: str,
    base_url: str | None,
    timeout_s: float,
    max_retries: int,
    max_tokens: int,
    temperature: float,
    extra: dict[str, Any] | None = None,
) -> BaseChatModel:
    import httpx
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model=model,
        api_key=api_key,  # type: ignore[arg-type]
        base_url=base_url,
        timeout=timeout_s,  # the SDK's default is 600 s: far too long for a person waiting
        max_retries=max_retries,  # the SDK retries 408/409/429/5xx with exponential backoff
        max_tokens=max_tokens,  # type: ignore[call-arg]
        temperature=temperature,
        stream_usage=True,  # usage (and cached tokens) on streamed replies too
        model_kwargs=extra or {},
        # Our own client per model: langchain-openai's shared default is bound to the first event loop.
        http_async_client=httpx.AsyncClient(timeout=timeout_s),
    )
    chat.async_client = WireCompletions(chat.async_client)
    return chat


class WireCompletions:
    """The SDK's chat completions with `messages` and `tools` sent as they are.

    langchain-openai already builds both in wire format, yet the SDK walks every message, content part
    and tool schema against its TypedDicts before sending (about 5% of a turn's CPU, growing with the
    conversation). None of those types renames or reformats a field, so the walk changes nothing: the two
    go in `extra_body`, which the SDK merges into the JSON body untouched. Everything else (model,
    stream options, prompt_cache_key, ...) still goes through the SDK's own parameters.
    """

    WIRE = ("messages", "tools")

    def __init__(self, completions: Any) -> None:
        self._completions = completions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._completions, name)

    @property
    def with_raw_response(self) -> WireCompletions:
        """The non-streaming path (langchain-openai's `_agenerate`) calls `with_raw_response.create`."""
        return WireCompletions(self._completions.with_raw_response)

    async def create(self, **payload: Any) -> Any:
        wire = {key: payload.pop(key) for key in self.WIRE if key in payload}
        extra = {**(payload.pop("extra_body", None) or {}), **wire}
        return await self._completions.create(messages=[], extra_body=extra, **payload)


class FallbackChatModel:
    """Tries each link in order; what answered is in `response_metadata["model_name"]`."""

    def __init__(
        self, links: Sequence[ModelLink], *, deadline_s: float | None = None, clock: Any = time.monotonic
    ) -> None:
        self.links = list(links)
        # One model's whole budget, retries included: the SDK retries timeouts too, so without it a hung
        # server costs (retries + 1) x timeout before the next model is tried.
        self.deadline_s = deadline_s
        self._clock = clock

    @property
    def primary(self) -> str:
        return self.links[0].name

    async def ainvoke(self, messages: list[AnyMessage], config: Any = None, **kwargs: Any) -> AIMessage:
        errors: list[str] = []
        for position, link in enumerate(self.links):
            if not link.breaker.allow():
                errors.append(f"{link.name}: circuit open")
                continue
            # The last link (the offline engine) always runs; the others only with the turn's budget left.
            last = position == len(self.links) - 1
            limit = self.deadline_s if last else budget(self.deadline_s, reserve_s=OFFLINE_RESERVE_S)
            if limit is not None and limit <= 0:
                errors.append(f"{link.name}: turn deadline")
                continue
            started = self._clock()
            with model_span(link.name) as span:
                try:
                    reply = await asyncio.wait_for(link.model.ainvoke(messages, config, **kwargs), limit)
                except Exception as error:  # noqa: BLE001 - any failure moves us down the chain
                    failed(span, error)
                    link.breaker.record_failure()
                    errors.append(f"{link.name}: {type(error).__name__}")
                    log.warning(
                        "model %s failed (%s: %s); trying the next one",
                        link.name,
                        type(error).__name__,
                        str(error)[:200],
                    )
                    continue
                record_reply(span, reply)
            link.breaker.record_success()
            reply.response_metadata.setdefault("model_name", link.name)
            reply.response_metadata["deskpilot_model"] = link.name
            reply.response_metadata["latency_ms"] = round((self._clock() - started) * 1000, 1)
            if errors:
                reply.response_metadata["fallback_from"] = errors
            return reply
        raise RuntimeError("every model in the chain failed: " + "; ".join(errors))


def build_model_chain(
    *,
    tools: Sequence[Any],
    api_key: str | None,
    model: str,
    fallback_models: Sequence[str],
    base_url: str | None,
    timeout_s: float,
    max_retries: int,
    max_tokens: int,
    temperature: float,
    failure_threshold: int = 3,
    reset_after_s: float = 30.0,
    deadline_s: float | None = None,
    extra: dict[str, Any] | None = None,
) -> FallbackChatModel:
    """gpt-4o -> fallbacks -> offline engine; without a key, the offline engine alone."""
    links: list[ModelLink] = []
    if api_key:
        for name in [model, *fallback_models]:
            chat = openai_chat_model(
                name,
                api_key=api_key,
                base_url=base_url,
                timeout_s=timeout_s,
                max_retries=max_retries,
                max_tokens=max_tokens,
                temperature=temperature,
                extra=extra,
            )
            links.append(
                ModelLink(
                    name,
                    chat.bind_tools(list(tools)),
                    CircuitBreaker(failure_threshold=failure_threshold, reset_after_s=reset_after_s),
                )
            )
    offline = OfflineChatModel().bind_tools(list(tools))
    links.append(ModelLink(OFFLINE_MODEL_NAME, offline, CircuitBreaker(failure_threshold=10**9)))
    return FallbackChatModel(links, deadline_s=deadline_s)
