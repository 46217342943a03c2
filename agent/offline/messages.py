"""Reading a conversation as the offline engine sees it: the customer's turn, tool results, passages."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agent.prompts import is_customer_message, is_reference_message
from agent.turns import content_text

PASSAGE_RE = re.compile(r"^\[(\d+)\] (\{.*\})$", re.MULTILINE)


def passages(messages: list[BaseMessage]) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    for message in messages:
        if not is_reference_message(message):
            continue
        body = str(message.content)
        heads = list(PASSAGE_RE.finditer(body))
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else body.rfind("</reference_documents>")
            meta = json.loads(head.group(2))
            if meta.get("warning"):
                continue  # flagged passages are never quoted by the offline engine
            found.append((int(head.group(1)), str(meta.get("title") or ""), body[head.end() : end].strip()))
    return found


def after_last_tool_call(messages: list[BaseMessage]) -> list[ToolMessage]:
    """The results of the most recent round of tool calls: what the answer should be about now."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, AIMessage) and message.tool_calls:
            return [m for m in messages[i + 1 :] if isinstance(m, ToolMessage)]
    return []


def last_customer_message_index(messages: Sequence[BaseMessage]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if is_customer_message(messages[i]):
            return i
    return None


def message_text(message: BaseMessage) -> str:
    return content_text(message.content)


def has_images(message: BaseMessage) -> bool:
    return isinstance(message.content, list) and any(
        isinstance(part, dict) and part.get("type") == "image_url" for part in message.content
    )
