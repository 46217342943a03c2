"""How the offline engine answers: only from tool results and retrieved passages, never from guesswork."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.messages import ToolMessage

from agent.offline.planner import INTENTS, OFFER_TO_REQUEST, ORDER_RE


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
