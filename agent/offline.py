"""The offline engine: a deterministic LangChain chat model used without an API key or when models fail.

It plans tool calls from the customer's words (order numbers, refund / status / cancel / human intents)
and writes its answer only from tool results and retrieved passages, so the pipeline keeps working,
honestly labelled `deskpilot-offline`, with no model at all.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.prompts import NOTE_MESSAGE_NAME, is_customer_message, is_reference_message

OFFLINE_MODEL_NAME = "deskpilot-offline"

ORDER_RE = re.compile(r"\bORD-\d{6}\b")
PASSAGE_RE = re.compile(r"^\[(\d+)\] (\{.*\})$", re.MULTILINE)
INTENTS: dict[str, re.Pattern[str]] = {
    "human": re.compile(
        r"\b(human|real person|a person|someone|representative|supervisor|manager|speak to|talk to)\b", re.I
    ),
    "refund": re.compile(r"\b(refund|money back|reimburse|return(ed|ing)?|chargeback)\b", re.I),
    "cancel": re.compile(r"\bcancel", re.I),
    "status": re.compile(
        r"\b(where|status|track|tracking|shipped|shipping|deliver|delivery|arrive|late|when will)\b", re.I
    ),
}
EXPLICIT_REQUEST_RE = re.compile(
    r"\b(i want|i'd like|i would like|please|refund me|issue|process|go ahead|request it)\b", re.I
)
AFFIRMATIVE_RE = re.compile(r"^\W*(yes|yeah|yep|sure|ok(ay)?|please do|go ahead)\b", re.I)
OFFER_TO_REQUEST = "Would you like me to request it?"
REFUND_REASONS = (
    ("damaged", re.compile(r"\b(damaged|dented|cracked|torn)\b", re.I)),
    (
        "defective",
        re.compile(r"\b(defective|broken|faulty|doesn't work|does not work|stopped working)\b", re.I),
    ),
    ("wrong_item", re.compile(r"\bwrong (item|size|colou?r|product)\b", re.I)),
    ("not_as_described", re.compile(r"\bnot as (described|pictured|advertised)\b", re.I)),
    ("late_delivery", re.compile(r"\b(late|too long|delayed)\b", re.I)),
    ("changed_mind", re.compile(r"\b(changed my mind|don't need|do not need|no longer need)\b", re.I)),
)
ANGRY_RE = re.compile(r"\b(furious|unacceptable|ridiculous|angry|terrible|worst|scam|lawyer)\b", re.I)


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
        turn_start = _last_customer_message_index(messages)
        question = message_text(messages[turn_start]) if turn_start is not None else ""
        this_turn = messages[turn_start + 1 :] if turn_start is not None else []
        tool_results = [m for m in this_turn if isinstance(m, ToolMessage)]
        latest_results = _after_last_tool_call(this_turn)
        tool_names = {t["function"]["name"] for t in tools}
        if any(isinstance(m, HumanMessage) and m.name == NOTE_MESSAGE_NAME for m in this_turn):
            tool_names = set()  # a human owns the conversation: draft, don't act

        history = messages[: (turn_start or 0) + 1]
        if not tool_results and tool_names:
            calls = plan_tool_calls(question, history, tool_names)
            if calls:
                return _ai(tool_calls=calls)
        if tool_results and "issue_refund" in tool_names and _asks_to_refund(question, history):
            calls = plan_refund(question, this_turn)
            if calls:
                return _ai(tool_calls=calls)

        passages = _passages(this_turn)
        images = _has_images(messages[turn_start]) if turn_start is not None else False
        return _ai(content=compose_answer(question, latest_results, passages, images))


# --- planning ------------------------------------------------------------------------------------------


def plan_tool_calls(question: str, history: list[BaseMessage], tool_names: set[str]) -> list[dict[str, Any]]:
    """Which tools a careful agent would call first, from the customer's words alone."""
    orders = ORDER_RE.findall(question)
    if not orders:  # "Can I get a refund for it?" refers to the order discussed earlier
        for message in reversed(history):
            if is_customer_message(message):
                earlier = ORDER_RE.findall(message_text(message))
                if earlier:
                    orders = earlier[-1:]
                    break
    wants = {name for name, pattern in INTENTS.items() if pattern.search(question)}
    if _accepts_offer(question, history):
        wants.add("refund")
    calls: list[dict[str, Any]] = []

    if "human" in wants and "escalate_to_human" in tool_names:
        category = "angry_customer" if ANGRY_RE.search(question) else "other"
        calls.append(
            _call(
                "escalate_to_human",
                reason_category=category,
                summary="Customer asked to speak with a person.",
            )
        )
        return calls
    for order in dict.fromkeys(orders):
        if ("refund" in wants or "cancel" in wants) and "lookup_refund" in tool_names:
            calls.append(_call("lookup_refund", order_number=order))
        elif "lookup_order" in tool_names and (ORDER_RE.search(question) or "status" in wants):
            calls.append(_call("lookup_order", order_number=order))
    return calls


def plan_refund(question: str, this_turn: list[BaseMessage]) -> list[dict[str, Any]]:
    """After lookup_refund says eligible, propose the refund the customer explicitly asked for.

    Proposing is all the engine can do: the tool node checks policy and a staff member approves.
    """
    if any(
        isinstance(m, AIMessage) and any(c["name"] == "issue_refund" for c in m.tool_calls) for m in this_turn
    ):
        return []
    for message in this_turn:
        if not (isinstance(message, ToolMessage) and message.name == "lookup_refund"):
            continue
        try:
            data = json.loads(str(message.content))
        except json.JSONDecodeError:
            continue
        eligibility = data.get("eligibility") or {}
        if eligibility.get("eligible") and eligibility.get("refundable_amount"):
            reason = next((name for name, pattern in REFUND_REASONS if pattern.search(question)), "other")
            return [
                _call(
                    "issue_refund",
                    order_number=data["order_number"],
                    amount=float(eligibility["refundable_amount"]),
                    reason=reason,
                )
            ]
    return []


def _asks_to_refund(question: str, history: list[BaseMessage]) -> bool:
    return bool(
        INTENTS["refund"].search(question) and EXPLICIT_REQUEST_RE.search(question)
    ) or _accepts_offer(question, history)


def _accepts_offer(question: str, history: list[BaseMessage]) -> bool:
    """'Yes please' right after we offered to request the refund."""
    if not AFFIRMATIVE_RE.search(question):
        return False
    earlier = [m for m in history[:-1] if isinstance(m, AIMessage) and m.content]
    return bool(earlier) and OFFER_TO_REQUEST in str(earlier[-1].content)


def _call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:16]}", "type": "tool_call"}


# --- answering -----------------------------------------------------------------------------------------


def compose_answer(
    question: str, tool_results: list[ToolMessage], passages: list[tuple[int, str, str]], images: bool
) -> str:
    parts: list[str] = []
    if images:
        parts.append("I can't read images in offline mode, so I haven't looked at the attachment.")
    for result in tool_results:
        parts.append(describe_tool_result(result))
    if passages and not tool_results:
        best = _best_passages(question, passages)
        for number, title, text in best:
            parts.append(f"From our help centre ({title}): {_first_sentences(text)} [{number}]")
    if not parts:
        if ORDER_RE.search(question) is None and INTENTS["status"].search(question):
            parts.append(
                "I can check that for you. Could you give me your order number? It looks like ORD-123456."
            )
        else:
            parts.append(
                "I couldn't find an answer to that in our help centre. I can pass your question to our "
                "support team if you'd like."
            )
    return "\n\n".join(parts)


def describe_tool_result(message: ToolMessage) -> str:
    try:
        data = json.loads(str(message.content))
    except json.JSONDecodeError:
        return str(message.content)
    if isinstance(data, dict) and "error" in data:
        return f"I couldn't complete that: {data.get('message', data['error'])}"
    if isinstance(data, dict) and data.get("pending_approval"):
        return (
            "I've passed your request to a member of our team for approval; you'll hear back as soon as "
            "they have reviewed it."
        )
    name = message.name or ""
    if name == "lookup_order":
        return _describe_order(data)
    if name == "lookup_refund":
        return _describe_refund(data)
    if name == "escalate_to_human":
        return (
            "I've handed this conversation to a member of our support team"
            + (f" (ticket {data['ticket_id']})" if isinstance(data, dict) and data.get("ticket_id") else "")
            + "; they'll reply here as soon as possible."
        )
    if name == "issue_refund" and isinstance(data, dict) and data.get("executed"):
        window = data.get("arrives_between") or []
        when = f" It should reach {data.get('refunded_to') or 'your original payment method'}" + (
            f" between {window[0]} and {window[1]}." if len(window) == 2 else "."
        )
        return (
            f"Your refund of {data.get('amount')} {data.get('currency', '')} for order "
            f"{data.get('order_number')} has been issued (refund {data.get('refund_id')}).{when}"
        )
    if name in ("cancel_order", "update_shipping_address") and isinstance(data, dict):
        done = "cancelled" if name == "cancel_order" else "updated with the new shipping address"
        return f"Order {data.get('order_number')} has been {done}."
    if name == "route_ticket" and isinstance(data, dict):
        return f"I've filed ticket {data.get('ticket_id', '')} with our {data.get('queue', 'support')} team."
    return "Here is what I found: " + json.dumps(data, ensure_ascii=False)[:600]


def _describe_order(data: dict[str, Any]) -> str:
    number = data.get("order_number", "your order")
    status = str(data.get("status", "unknown")).replace("_", " ")
    text = f"Order {number} is {status}."
    if data.get("delivered_at"):
        text += f" It was delivered on {str(data['delivered_at'])[:10]}."
    elif data.get("expected_delivery"):
        text += f" Expected delivery: {str(data['expected_delivery'])[:10]}."
    if data.get("carrier") and data.get("tracking_number"):
        text += f" Carrier {data['carrier']}, tracking number {data['tracking_number']}."
    return text


def _describe_refund(data: dict[str, Any]) -> str:
    number = data.get("order_number", "your order")
    eligibility = data.get("eligibility", data)
    refundable = eligibility.get("refundable_amount") or eligibility.get("refundable")
    reasons = eligibility.get("reasons") or []
    if eligibility.get("eligible"):
        text = f"Order {number} is eligible for a refund"
        if refundable is not None:
            text += f" of up to {refundable}"
        if eligibility.get("window_ends"):
            text += f" until {str(eligibility['window_ends'])[:10]}"
        return text + f". {OFFER_TO_REQUEST} A team member reviews every refund before it is issued."
    why = "; ".join(str(r) for r in reasons) or "it does not meet our refund policy"
    return f"Order {number} can't be refunded: {why}."


def _best_passages(question: str, passages: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    words = {w for w in re.findall(r"[a-z0-9]{3,}", question.lower())}
    scored = sorted(
        passages, key=lambda p: (-len(words & set(re.findall(r"[a-z0-9]{3,}", p[2].lower()))), p[0])
    )
    return scored[:2] if scored else []


def _first_sentences(text: str, limit: int = 320) -> str:
    body = re.sub(r"^#+ .*$", "", text, flags=re.MULTILINE)
    body = " ".join(body.split())
    sentences = re.split(r"(?<=[.!?])\s+", body)
    out = ""
    for sentence in sentences:
        if len(out) + len(sentence) > limit and out:
            break
        out += (" " if out else "") + sentence
    return out


def _passages(messages: list[BaseMessage]) -> list[tuple[int, str, str]]:
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


def _after_last_tool_call(messages: list[BaseMessage]) -> list[ToolMessage]:
    """The results of the most recent round of tool calls: what the answer should be about now."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, AIMessage) and message.tool_calls:
            return [m for m in messages[i + 1 :] if isinstance(m, ToolMessage)]
    return []


def _last_customer_message_index(messages: list[BaseMessage]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if is_customer_message(messages[i]):
            return i
    return None


def message_text(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return " ".join(
        p.get("text", "") for p in message.content if isinstance(p, dict) and p.get("type") == "text"
    )


def _has_images(message: BaseMessage) -> bool:
    return isinstance(message.content, list) and any(
        isinstance(part, dict) and part.get("type") == "image_url" for part in message.content
    )


def _ai(content: str = "", tool_calls: list[dict[str, Any]] | None = None) -> AIMessage:
    return AIMessage(
        content=content,
        tool_calls=tool_calls or [],
        response_metadata={"model_name": OFFLINE_MODEL_NAME, "finish_reason": "stop"},
        usage_metadata={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    )
