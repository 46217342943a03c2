"""The OpenAI-compatible endpoint with the official `openai` SDK and LangChain's ChatOpenAI as clients of a
real uvicorn server on 127.0.0.1; the model behind it is the local OpenAI test server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import uvicorn
from pydantic import SecretStr

from tests.conftest import bearer, online
from tests.support import Reply, Usage


class AppServer:
    """The Deskpilot app served by uvicorn from a thread, its lifespan included."""

    def __init__(self, app: Any) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the app did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def server(settings: Any, seeded_engine: Any, openai_stub: Any) -> Iterator[AppServer]:
    from api.main import create_app

    app = create_app(online(settings, openai_stub), engine=seeded_engine, redactor=None, knowledge=None)
    with AppServer(app) as running:
        yield running


@pytest.fixture
def key(seeded_engine: Any) -> str:
    return bearer(seeded_engine)["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def sdk(server: AppServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


def stored(server: AppServer, conversation_id: str) -> list[Any]:
    runtime = server.app.state.runtime
    return list(
        runtime.conversations.messages(tenant="default", conversation_id=conversation_id, restore=True)
    )


def test_models_lists_deskpilot(sdk: openai.OpenAI) -> None:
    assert [m.id for m in sdk.models.list()] == ["deskpilot"]
    assert sdk.models.retrieve("deskpilot").owned_by == "deskpilot"


def test_a_completion_carries_usage_with_cached_tokens_and_the_deskpilot_object(
    sdk: openai.OpenAI, openai_stub: Any, server: AppServer
) -> None:
    openai_stub.enqueue(Reply("Returns are free within 30 days.", usage=Usage(1800, 9, cached_tokens=1536)))
    reply = sdk.chat.completions.create(
        model="deskpilot",
        messages=[
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": "Can I return a tent?"},
        ],
        temperature=0.3,
    )
    assert reply.object == "chat.completion" and reply.model == "deskpilot"
    assert reply.choices[0].message.content == "Returns are free within 30 days."
    assert reply.choices[0].finish_reason == "stop"
    assert (
        reply.usage is not None and reply.usage.prompt_tokens == 1800 and reply.usage.completion_tokens == 9
    )
    assert (
        reply.usage.prompt_tokens_details is not None
        and reply.usage.prompt_tokens_details.cached_tokens == 1536
    )
    deskpilot = (reply.model_extra or {})["deskpilot"]
    assert deskpilot["degraded"] is False and deskpilot["model"].startswith("gpt-4o")
    assert [m.role for m in stored(server, deskpilot["conversation_id"])] == ["customer", "assistant"]


def test_a_stream_has_one_id_a_last_chunk_a_usage_chunk_and_done(
    sdk: openai.OpenAI, openai_stub: Any, server: AppServer
) -> None:
    openai_stub.enqueue(Reply("Your parcel is on its way.", usage=Usage(1700, 7, cached_tokens=1280)))
    chunks = list(
        sdk.chat.completions.create(
            model="deskpilot",
            messages=[{"role": "user", "content": "Where is my parcel?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert len({c.id for c in chunks}) == 1 and all(c.object == "chat.completion.chunk" for c in chunks)
    *content, last, usage = chunks
    assert usage.choices == [] and usage.usage is not None and usage.usage.prompt_tokens_details is not None
    assert usage.usage.prompt_tokens_details.cached_tokens == 1280
    assert last.choices[0].finish_reason == "stop" and all(
        c.choices[0].finish_reason is None for c in content
    )
    text = "".join(c.choices[0].delta.content or "" for c in content)
    assert text == "Your parcel is on its way."
    conversation_id = (last.model_extra or {})["deskpilot"]["conversation_id"]
    assert stored(server, conversation_id)[-1].content == text
    # Without include_usage there is no usage chunk.
    plain = list(
        sdk.chat.completions.create(
            model="deskpilot", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert plain[-1].choices[0].finish_reason == "stop" and all(c.usage is None for c in plain)


def test_a_conversation_continues_by_metadata_or_user(sdk: openai.OpenAI, server: AppServer) -> None:
    first = sdk.chat.completions.create(model="deskpilot", messages=[{"role": "user", "content": "Hello"}])
    conversation_id = (first.model_extra or {})["deskpilot"]["conversation_id"]
    again = sdk.chat.completions.create(
        model="deskpilot",
        messages=[
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi!"},
            {"role": "user", "content": "Where is my order?"},
        ],
        metadata={"conversation_id": conversation_id},
    )
    assert (again.model_extra or {})["deskpilot"]["conversation_id"] == conversation_id
    customers = [m.content for m in stored(server, conversation_id) if m.role == "customer"]
    assert customers == [
        "Hello",
        "Where is my order?",
    ]  # the stored history is the context, not the request's
    by_user = [
        (
            sdk.chat.completions.create(
                model="deskpilot", messages=[{"role": "user", "content": t}], user="crm-ticket-8"
            ).model_extra
            or {}
        )["deskpilot"]["conversation_id"]
        for t in ("one", "two")
    ]
    assert by_user[0] == by_user[1] != conversation_id
    # Without a name, the request's earlier turns go along as the context of a new conversation.
    fresh = sdk.chat.completions.create(
        model="deskpilot",
        messages=[
            {"role": "user", "content": "My tent is torn"},
            {"role": "assistant", "content": "Sorry!"},
            {"role": "user", "content": "Can I return it?"},
        ],
    )
    text = stored(server, (fresh.model_extra or {})["deskpilot"]["conversation_id"])[0].content
    assert "My tent is torn" in text and text.endswith("Can I return it?")


def test_errors_are_the_sdks_usual_exceptions(sdk: openai.OpenAI, server: AppServer) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model="deskpilot",
            messages=[{"role": "user", "content": "refund me"}],
            tools=[{"type": "function", "function": {"name": "refund", "parameters": {"type": "object"}}}],
        )
    assert "validated business tools" in refused.value.message and refused.value.code == "tools_not_supported"
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(
            model="deskpilot",
            messages=[{"role": "user", "content": "x"}],
            functions=[{"name": "f", "parameters": {"type": "object"}}],
        )
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(
            model="deskpilot",
            messages=[{"role": "user", "content": "x"}],
            metadata={"conversation_id": "conv_nope"},
        )
    with pytest.raises(openai.BadRequestError) as invalid:
        sdk.chat.completions.create(model="deskpilot", messages=[])
    assert invalid.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    wrong_key = openai.OpenAI(base_url=server.base_url, api_key="dp_not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong_key.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong_key.chat.completions.create(model="deskpilot", messages=[{"role": "user", "content": "x"}])


async def test_the_async_client_streams_too(server: AppServer, key: str) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key=key, max_retries=0)
    stream = await client.chat.completions.create(
        model="deskpilot",
        messages=[{"role": "user", "content": "Hello there"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    await client.close()


def test_langchain_chat_openai_invokes_and_streams(server: AppServer, key: str, openai_stub: Any) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model="deskpilot", base_url=server.base_url, api_key=SecretStr(key), max_retries=0, stream_usage=True
    )
    openai_stub.enqueue(Reply("Returns are free.", usage=Usage(1600, 4, cached_tokens=1024)))
    reply = chat.invoke("Can I return a tent?")
    assert reply.content == "Returns are free."
    assert (
        reply.usage_metadata is not None and reply.usage_metadata["input_token_details"]["cache_read"] == 1024
    )
    openai_stub.enqueue(Reply("On its way.", usage=Usage(1500, 3, cached_tokens=1280)))
    pieces = list(chat.stream("Where is my order?"))
    assert "".join(str(p.content) for p in pieces) == "On its way."
    total = sum(pieces[1:], pieces[0])
    assert (
        total.usage_metadata is not None and total.usage_metadata["input_token_details"]["cache_read"] == 1280
    )
    with pytest.raises(openai.BadRequestError):
        chat.bind_tools(
            [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        ).invoke("x")


def test_offline_the_completion_says_it_is_degraded(settings: Any, seeded_engine: Any, key: str) -> None:
    from api.main import create_app

    app = create_app(settings, engine=seeded_engine, redactor=None, knowledge=None)  # no key: offline engine
    with AppServer(app) as running:
        sdk = openai.OpenAI(base_url=running.base_url, api_key=key, max_retries=0)
        reply = sdk.chat.completions.create(
            model="deskpilot",
            messages=[{"role": "user", "content": "Where is my order?"}],
            metadata={"customer_id": "CUS-1001"},
        )
    deskpilot = (reply.model_extra or {})["deskpilot"]
    assert reply.model == "deskpilot" and reply.choices[0].message.content
    assert deskpilot["degraded"] is True and deskpilot["model"] == "deskpilot-offline"
    conversation = app.state.runtime.conversations.get(
        tenant="default", conversation_id=deskpilot["conversation_id"]
    )
    assert conversation.customer_id == "CUS-1001"


async def test_a_reset_and_a_failure_mid_stream_are_told_in_the_stream() -> None:
    """Unit level: a fallback model that starts over cannot take back streamed text, so the last chunk says
    so and carries the whole reply; a failure after the first chunk arrives as an OpenAI error event."""
    import json as jsonlib
    from types import SimpleNamespace

    from agent.turns import TurnEvent, TurnResult
    from api.channels.openai_chat import ChunkWriter
    from api.routes.openai_compat import _chunks
    from api.turns import TurnFailed

    result = TurnResult("conv_1", "Hi there", "Hi there", "", [], [], "gpt-4o-mini", False, {}, {})
    conversation = SimpleNamespace(status="active")
    runtime: Any = SimpleNamespace(conversations=SimpleNamespace(get=lambda **_: conversation), redactor=None)
    principal: Any = SimpleNamespace(tenant="default")

    async def events(fail: bool) -> Any:
        yield TurnEvent("token", "Hel")
        if fail:
            raise TurnFailed("turn_1", "deadline")
        yield TurnEvent("reset", None)
        yield TurnEvent("token", "Hi there")
        yield TurnEvent("final", result)

    def parsed(raw: list[str]) -> list[Any]:
        return [jsonlib.loads(r.removeprefix("data: ")) if "[DONE]" not in r else "[DONE]" for r in raw]

    chunks = parsed(
        [c async for c in _chunks(runtime, principal, ChunkWriter("c1", include_usage=True), events(False))]
    )
    *_, last, usage, done = chunks
    assert last["choices"][0]["finish_reason"] == "stop" and last["deskpilot"]["reset"] is True
    assert last["deskpilot"]["content"] == "Hi there" and usage["choices"] == [] and done == "[DONE]"
    failed = parsed(
        [c async for c in _chunks(runtime, principal, ChunkWriter("c2", include_usage=False), events(True))]
    )
    assert failed[-2]["error"]["type"] == "server_error" and failed[-1] == "[DONE]"
