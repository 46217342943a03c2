"""The OpenAI test server through the real `openai` SDK: replies, tools, streams, errors, timeouts."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import numpy as np
import openai
import pytest

from tests.support import Fail, Hang, OpenAIStub, Reply, Structured, ToolCalls, Usage

USER = [{"role": "user", "content": "Where is my order ORD-104233?"}]


def client(stub: OpenAIStub, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=stub.base_url, api_key="sk-test", **kwargs)


def test_plain_reply_echoes_model_and_estimates_usage(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Reply("Your order shipped yesterday."))
    response = client(openai_stub).chat.completions.create(model="gpt-4o-mini", messages=USER)

    assert response.choices[0].message.content == "Your order shipped yesterday."
    assert response.choices[0].finish_reason == "stop"
    assert response.model == "gpt-4o-mini"
    raw = openai_stub.requests[0].raw
    assert response.usage.prompt_tokens == len(raw) // 4
    assert response.usage.prompt_tokens_details.cached_tokens == 0


def test_scripted_usage_reports_cached_tokens(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Reply("ok", usage=Usage(prompt_tokens=2048, completion_tokens=7, cached_tokens=1920)))
    usage = client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER).usage

    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (2048, 7, 2055)
    assert usage.prompt_tokens_details.cached_tokens == 1920


def test_request_body_and_headers_are_captured_byte_exact(openai_stub: OpenAIStub) -> None:
    sent: list[bytes] = []
    http = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.read())]})
    messages = [{"role": "system", "content": "Tone: calm. Ünïcödé ✓"}, *USER]
    client(openai_stub, http_client=http).chat.completions.create(
        model="gpt-4o", messages=messages, prompt_cache_key="tenant-a-0"
    )

    captured = openai_stub.requests[0]
    assert captured.raw == sent[0]
    assert captured.path == "/v1/chat/completions" and captured.method == "POST"
    assert captured.headers["authorization"] == "Bearer sk-test"
    assert captured.json["messages"] == messages
    assert captured.json["prompt_cache_key"] == "tenant-a-0"


def test_several_tool_calls_in_one_message(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(
        ToolCalls([("lookup_order", {"order_id": "ORD-104233"}), ("lookup_refund", {"x": 1})])
    )
    message = client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER).choices[0]

    assert message.finish_reason == "tool_calls"
    calls = message.message.tool_calls
    assert [c.function.name for c in calls] == ["lookup_order", "lookup_refund"]
    assert json.loads(calls[0].function.arguments) == {"order_id": "ORD-104233"}
    assert len({c.id for c in calls}) == 2 and all(c.id.startswith("call_") for c in calls)


def test_streamed_text_arrives_in_pieces_with_final_usage(openai_stub: OpenAIStub) -> None:
    text = "Your parcel is with the carrier and should arrive on Friday."
    openai_stub.enqueue(Reply(text, usage=Usage(1500, 12, cached_tokens=1024)))
    stream = client(openai_stub).chat.completions.create(
        model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 2 and "".join(pieces) == text
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens_details.cached_tokens == 1024
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_sends_no_usage_chunk(openai_stub: OpenAIStub) -> None:
    chunks = list(client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streamed_tool_calls_accumulate(openai_stub: OpenAIStub) -> None:
    args = {"order_id": "ORD-104233", "reason": "damaged on arrival"}
    openai_stub.enqueue(ToolCalls([("lookup_order", args), ("route_ticket", {"queue": "returns"})]))
    chunks = list(client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER, stream=True))

    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += (delta.function.name or "") if delta.function else ""
            call["arguments"] += (delta.function.arguments or "") if delta.function else ""
    argument_deltas = [d for c in chunks for d in c.choices[0].delta.tool_calls or [] if d.id is None]

    assert [calls[i]["name"] for i in sorted(calls)] == ["lookup_order", "route_ticket"]
    assert json.loads(calls[0]["arguments"]) == args
    assert len(argument_deltas) >= 4  # arguments really arrive in pieces
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_structured_returns_the_object_as_json_content(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Structured({"queue": "billing", "confidence": 0.9}))
    fmt = {"type": "json_schema", "json_schema": {"name": "t", "strict": True, "schema": {"type": "object"}}}
    response = client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER, response_format=fmt)

    assert json.loads(response.choices[0].message.content) == {"queue": "billing", "confidence": 0.9}
    assert openai_stub.requests[0].json["response_format"] == fmt


def test_rate_limit_then_success_through_sdk_retries(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Fail(429, retry_after=0.01), Reply("after the retry"))
    response = client(openai_stub, max_retries=2).chat.completions.create(model="gpt-4o", messages=USER)

    assert response.choices[0].message.content == "after the retry"
    assert [r.headers["x-stainless-retry-count"] for r in openai_stub.requests] == ["0", "1"]


def test_rate_limit_without_retries_raises_with_openai_error_body(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Fail(429, retry_after=3))
    with pytest.raises(openai.RateLimitError) as caught:
        client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER)

    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_surface_once_retries_are_exhausted(openai_stub: OpenAIStub, status: int) -> None:
    openai_stub.enqueue(*[Fail(status, retry_after=0.01)] * 3, Reply("never reached"))
    with pytest.raises(openai.InternalServerError) as caught:
        client(openai_stub, max_retries=2).chat.completions.create(model="gpt-4o", messages=USER)

    assert caught.value.status_code == status
    assert len(openai_stub.requests) == 3 and openai_stub.pending == 1


def test_custom_error_body_is_returned_verbatim(openai_stub: OpenAIStub) -> None:
    body = {"error": {"message": "Deployment not found", "type": "invalid_request_error", "code": "x"}}
    openai_stub.enqueue(Fail(404, body=body))
    with pytest.raises(openai.NotFoundError, match="Deployment not found"):
        client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER)


def test_hang_trips_the_client_timeout(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Hang(2.0))
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        client(openai_stub, timeout=0.2).chat.completions.create(model="gpt-4o", messages=USER)
    assert time.perf_counter() - started < 1.5


def test_hang_leaves_the_next_item_for_the_retry(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Hang(2.0), Reply("second attempt"))
    response = client(openai_stub, timeout=0.2, max_retries=1).chat.completions.create(
        model="gpt-4o", messages=USER
    )
    assert response.choices[0].message.content == "second attempt"


def test_short_hang_answers_with_then(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Hang(0.05, then=Reply("slow but fine")))
    response = client(openai_stub, timeout=5).chat.completions.create(model="gpt-4o", messages=USER)
    assert response.choices[0].message.content == "slow but fine"


async def test_a_hanging_request_does_not_block_others(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Hang(0.5, then=Reply("slow")), Reply("fast"))
    aclient = openai.AsyncOpenAI(base_url=openai_stub.base_url, api_key="sk-test", max_retries=0)
    slow = asyncio.create_task(aclient.chat.completions.create(model="gpt-4o", messages=USER))
    await asyncio.sleep(0.1)  # let the slow request take the Hang first
    started = time.perf_counter()
    fast = await aclient.chat.completions.create(model="gpt-4o", messages=USER)

    assert fast.choices[0].message.content == "fast" and time.perf_counter() - started < 0.3
    assert (await slow).choices[0].message.content == "slow"


def test_callable_default_scripts_by_content(openai_stub: OpenAIStub) -> None:
    def script(body: dict) -> Reply | ToolCalls:
        last = body["messages"][-1]
        if last["role"] == "user" and "ORD-" in last["content"]:
            return ToolCalls([("lookup_order", {"order_id": "ORD-104233"})])
        return Reply("Answered from the tool result.")

    openai_stub.default = script
    sdk = client(openai_stub)
    first = sdk.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message
    assert first.tool_calls[0].function.name == "lookup_order"
    follow_up = [
        *USER,
        first.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": '{"status": "shipped"}'},
    ]
    second = sdk.chat.completions.create(model="gpt-4o", messages=follow_up).choices[0].message
    assert second.content == "Answered from the tool result."


def test_queue_is_consumed_in_order_then_default_answers(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Reply("one"), Reply("two"))
    openai_stub.default = Reply("fallback")
    sdk = client(openai_stub)
    answers = [
        sdk.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content
        for _ in range(3)
    ]
    assert answers == ["one", "two", "fallback"]


def test_reset_forgets_requests_queue_and_default(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Reply("queued"), Reply("left over"))
    openai_stub.default = Reply("custom")
    client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER)
    openai_stub.reset()

    assert openai_stub.requests == [] and openai_stub.pending == 0
    reply = client(openai_stub).chat.completions.create(model="gpt-4o", messages=USER)
    assert reply.choices[0].message.content not in {"left over", "custom"}


def test_embeddings_are_deterministic_unit_vectors(openai_stub: OpenAIStub) -> None:
    sdk = client(openai_stub)
    first = sdk.embeddings.create(model="text-embedding-3-small", input=["refund policy", "shipping"])
    again = sdk.embeddings.create(
        model="text-embedding-3-small", input="refund policy", encoding_format="float"
    )
    small = sdk.embeddings.create(model="text-embedding-3-small", input="refund policy", dimensions=256)

    assert len(first.data) == 2 and len(first.data[0].embedding) == 1536
    assert np.allclose(first.data[0].embedding, again.data[0].embedding)
    assert not np.allclose(first.data[0].embedding, first.data[1].embedding)
    assert len(small.data[0].embedding) == 256
    assert np.linalg.norm(first.data[1].embedding) == pytest.approx(1.0, abs=1e-5)


def test_models_listing_and_unknown_paths(openai_stub: OpenAIStub) -> None:
    sdk = client(openai_stub)
    assert "gpt-4o" in [m.id for m in sdk.models.list()]
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(model="gpt-4o", input="hi")
    assert openai_stub.requests[-1].path == "/v1/responses"


def test_context_manager_serves_on_a_free_port_and_stops() -> None:
    with OpenAIStub(default=Reply("own server")) as stub:
        assert stub.base_url.startswith("http://127.0.0.1:")
        answer = client(stub).chat.completions.create(model="gpt-4o", messages=USER)
        assert answer.choices[0].message.content == "own server"
    with pytest.raises(openai.APIConnectionError):
        client(stub, timeout=1).chat.completions.create(model="gpt-4o", messages=USER)
