"""The offline engine: a deterministic LangChain chat model used without an API key or when models fail.

It plans tool calls from the customer's words (order numbers, refund / status / cancel / human intents)
and writes its answer only from tool results and retrieved passages, so the pipeline keeps working,
honestly labelled `deskpilot-offline`, with no model at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.offline.messages import (
    after_last_tool_call,
    has_images,
    last_customer_message_index,
    message_text,
    passages,
)
from agent.offline.planner import asks_for_change, plan_change, plan_tool_calls
from agent.offline.writer import compose_answer
from agent.prompts import NOTE_MESSAGE_NAME

OFFLINE_MODEL_NAME = "deskpilot-offline"


class OfflineChatModel(BaseChatModel):
    """Deterministic stand-in for gpt-4o; supports `bind_tools` like any LangChain chat model."""

    model_name: str = OFFLINE_MODEL_NAME

    @property
    def _llm_type(self) -> str:
        return "deskpilot-offline"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    # --- generation ---------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self._respond(messages, kwargs.get("tools") or [])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._respond(messages, kwargs.get("tools") or [])
        if message.tool_calls:
            chunk = AIMessageChunk(
                content="",
                tool_call_chunks=[
                    {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                    for i, c in enumerate(message.tool_calls)
                ],
                response_metadata=message.response_metadata,
            )
            yield ChatGenerationChunk(message=chunk)
            return
        words = re.findall(r"\S+\s*", str(message.content)) or [""]
        for i, word in enumerate(words):
            last = i == len(words) - 1
            chunk = AIMessageChunk(
                content=word,
                response_metadata=message.response_metadata if last else {},
                usage_metadata=message.usage_metadata if last else None,
            )
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)

    def _respond(self, messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage:
        turn_start = last_customer_message_index(messages)
        question = message_text(messages[turn_start]) if turn_start is not None else ""
        this_turn = messages[turn_start + 1 :] if turn_start is not None else []
        tool_results = [m for m in this_turn if isinstance(m, ToolMessage)]
        latest_results = after_last_tool_call(this_turn)
        tool_names = {t["function"]["name"] for t in tools}
        if any(isinstance(m, HumanMessage) and m.name == NOTE_MESSAGE_NAME for m in this_turn):
            tool_names = set()  # a human owns the conversation: draft, don't act

        history = messages[: (turn_start or 0) + 1]
        if not tool_results and tool_names:
            calls = plan_tool_calls(question, history, tool_names)
            if calls:
                return _ai(tool_calls=calls)
        can_change = {"issue_refund", "cancel_order"} <= tool_names
        if tool_results and can_change and asks_for_change(question, history):
            calls = plan_change(question, this_turn)
            if calls:
                return _ai(tool_calls=calls)

        found = passages(this_turn)
        images = has_images(messages[turn_start]) if turn_start is not None else False
        return _ai(content=compose_answer(question, latest_results, found, images))


def _ai(content: str = "", tool_calls: list[dict[str, Any]] | None = None) -> AIMessage:
    return AIMessage(
        content=content,
        tool_calls=tool_calls or [],
        response_metadata={"model_name": OFFLINE_MODEL_NAME, "finish_reason": "stop"},
        usage_metadata={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    )
