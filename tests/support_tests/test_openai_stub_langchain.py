"""The OpenAI test server through `langchain_openai.ChatOpenAI`, the path the agent uses."""

from __future__ import annotations

from typing import Literal

import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from tests.support import Fail, Hang, OpenAIStub, Reply, Structured, ToolCalls, Usage

QUESTION = [HumanMessage("Where is my order ORD-104233?")]


class LookupOrder(BaseModel):
    """Look up an order of the current customer."""

    order_id: str = Field(pattern=r"^ORD-\d{6}$")


class Ticket(BaseModel):
    queue: Literal["billing", "shipping"]
    confidence: float


def chat(stub: OpenAIStub, **kwargs) -> ChatOpenAI:
    kwargs.setdefault("max_retries", 0)
    return ChatOpenAI(model="gpt-4o", base_url=stub.base_url, api_key="sk-test", stream_usage=True, **kwargs)


def test_plain_reply_with_usage_and_cache_read(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Reply("It ships tomorrow.", usage=Usage(1300, 9, cached_tokens=1152)))
    message = chat(openai_stub).invoke(QUESTION)

    assert isinstance(message, AIMessage) and message.content == "It ships tomorrow."
    assert message.response_metadata["model_name"] == "gpt-4o"
    assert message.usage_metadata["input_tokens"] == 1300
    assert message.usage_metadata["output_tokens"] == 9
    assert message.usage_metadata["input_token_details"]["cache_read"] == 1152


def test_bound_tool_call_is_parsed(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(ToolCalls([("LookupOrder", {"order_id": "ORD-104233"})]))
    message = chat(openai_stub).bind_tools([LookupOrder]).invoke(QUESTION)

    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("LookupOrder", {"order_id": "ORD-104233"})
    ]
    tools = openai_stub.requests[0].json["tools"]
    assert tools[0]["function"]["name"] == "LookupOrder"
    assert tools[0]["function"]["parameters"]["properties"]["order_id"]["pattern"] == r"^ORD-\d{6}$"


def test_tool_round_trip_sends_the_tool_result_back(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(ToolCalls([("LookupOrder", {"order_id": "ORD-104233"})]), Reply("Shipped on Monday."))
    model = chat(openai_stub).bind_tools([LookupOrder])
    call = model.invoke(QUESTION)
    answer = model.invoke(
        [*QUESTION, call, ToolMessage('{"status":"shipped"}', tool_call_id=call.tool_calls[0]["id"])]
    )

    assert answer.content == "Shipped on Monday."
    sent = openai_stub.requests[1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.tool_calls[0]["id"]
    assert sent[2] == {
        "role": "tool",
        "tool_call_id": call.tool_calls[0]["id"],
        "content": '{"status":"shipped"}',
    }


def test_streaming_text_with_usage(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(
        Reply("Your parcel arrives on Friday, tracking number attached.", Usage(2000, 11, 1792))
    )
    chunks = list(chat(openai_stub).stream(QUESTION))
    merged = sum(chunks[1:], chunks[0])

    assert sum(1 for c in chunks if c.content) >= 2
    assert isinstance(merged, AIMessageChunk)
    assert merged.content == "Your parcel arrives on Friday, tracking number attached."
    assert merged.usage_metadata["input_tokens"] == 2000
    assert merged.usage_metadata["input_token_details"]["cache_read"] == 1792
    assert openai_stub.requests[0].json["stream_options"] == {"include_usage": True}


def test_streaming_tool_calls_are_assembled(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(
        ToolCalls([("LookupOrder", {"order_id": "ORD-104233"}), ("LookupOrder", {"order_id": "ORD-100001"})])
    )
    chunks = list(chat(openai_stub).bind_tools([LookupOrder]).stream(QUESTION))
    merged = sum(chunks[1:], chunks[0])

    assert [c["args"] for c in merged.tool_calls] == [{"order_id": "ORD-104233"}, {"order_id": "ORD-100001"}]
    assert sum(1 for c in chunks if c.tool_call_chunks) >= 4


def test_structured_output_with_strict_json_schema(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Structured({"queue": "shipping", "confidence": 0.75}))
    result = (
        chat(openai_stub).with_structured_output(Ticket, method="json_schema", strict=True).invoke(QUESTION)
    )

    assert result == Ticket(queue="shipping", confidence=0.75)
    response_format = openai_stub.requests[0].json["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["strict"] is True


def test_rate_limit_then_success(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Fail(429, retry_after=0.01), Fail(503, retry_after=0.01), Reply("third time lucky"))
    assert chat(openai_stub, max_retries=2).invoke(QUESTION).content == "third time lucky"
    assert len(openai_stub.requests) == 3


def test_server_error_raises_when_retries_are_exhausted(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Fail(500, retry_after=0.01), Fail(500, retry_after=0.01))
    with pytest.raises(openai.InternalServerError):
        chat(openai_stub, max_retries=1).invoke(QUESTION)
    assert len(openai_stub.requests) == 2


def test_hang_trips_the_timeout(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Hang(2.0))
    with pytest.raises(openai.APITimeoutError):
        chat(openai_stub, timeout=0.2).invoke(QUESTION)


async def test_async_streaming(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(Reply("async answer"))
    text = "".join([str(chunk.content) async for chunk in chat(openai_stub).astream(QUESTION)])
    assert text == "async answer"
