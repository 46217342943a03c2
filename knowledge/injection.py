"""Flag retrieved text that gives instructions to an AI: such passages are shown as data, never obeyed."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Rule:
    reason: str
    pattern: re.Pattern[str]


def _rule(reason: str, pattern: str) -> _Rule:
    return _Rule(reason, re.compile(pattern, re.IGNORECASE | re.MULTILINE))


# "agent" is left out on purpose: help articles address human support agents all the time.
_AI = r"(?:ai|a\.i\.|assistant|bot|chatbot|llm|language model|copilot|gpt)"
_MONEY_ACTION = (
    r"(?:issue|process|grant|approve|send|give|authori[sz]e|initiate)\s+(?:(?:an?|the|this|that|their|my|his|"
    r"her|every|full|immediate|instant|complete|partial|\$[\d,.]+)\s+)*"
    r"(?:refunds?|credits?|chargebacks?|reimbursements?|gift\s*cards?|store\s+credit|compensation|payouts?)"
)

_RULES: tuple[_Rule, ...] = (
    _rule(
        "asks to ignore or override earlier instructions",
        r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?\b(?:previous|prior|above|earlier|"
        r"preceding|all|any|your|the|existing|original)\b[^.\n]{0,20}?\b(?:instructions?|prompts?|rules?|"
        r"directions?|guidelines?|polic(?:y|ies)|messages?|constraints?|guardrails?)\b",
    ),
    _rule(
        "tries to give the AI a new role or persona",
        r"\b(?:you are now|you're now|from now on,? you|pretend (?:to be|you are|you're)|role-?play(?:ing)?|"
        r"assume the role|developer mode|DAN mode|jailbreak)",
    ),
    _rule(
        "addresses the AI system directly",
        rf"\b(?:attention|note to|dear|hey|instructions? (?:to|for)|message (?:to|for))\s+"
        rf"(?:the\s+|all\s+|any\s+)?{_AI}s?\b|\b(?:if you are|as) an? (?:ai|language model|llm|chatbot)\b",
    ),
    _rule(
        "mentions the system prompt or hidden instructions",
        r"\b(?:system prompt|system message|hidden instructions?|developer message|prompt injection)\b"
        r"|<\|?(?:im_start|im_end|system)\|?>|\[/?INST\]|^\s*(?:system|assistant)\s*:",
    ),
    _rule(
        "demands a refund, credit or other money movement",
        # Imperative only (sentence start or after must/please...): "we issue refunds within..." is prose.
        rf"(?:^|[.!?:;]\s*|\b(?:please|must|should|now|immediately|always)\s+){_MONEY_ACTION}\b",
    ),
    _rule(
        "demands a tool or function call",
        r"\b(?:call|invoke|execute|trigger)\s+(?:the\s+)?\w+\s+(?:tool|function)\b"
        r"|\b(?:call|invoke|run|execute|use|trigger)\s+(?:the\s+)?[a-z]+_[a-z0-9_]+\b"
        r"|\bfunction_call\b|<tool_call>|\"tool_calls?\"\s*:",
    ),
    _rule(
        "asks to reveal secrets or send data elsewhere",
        r"\b(?:reveal|print|output|repeat|leak|disclose)\s+(?:your\s+|the\s+|all\s+|any\s+)*(?:system prompt|"
        r"instructions|api[ _-]?keys?|credentials|secrets?)\b|\b(?:send|forward|email|post|upload)\s+"
        r"(?:all\s+|the\s+|every\s+)+(?:customer|user|account|card)\s+(?:data|records|details|numbers|list)\b",
    ),
    _rule(
        "asks to hide something from the customer or staff",
        r"\b(?:do not|don't|never)\s+(?:tell|inform|let)\s+(?:the\s+)?"
        r"(?:customer|user|human|staff|supervisor)s?\b[^.\n]{0,20}?\b(?:about|that|know)\b",
    ),
)


def detect_injection(text: str) -> list[str]:
    """Reasons the text looks like instructions aimed at an AI agent; empty when it reads as plain content."""
    return [rule.reason for rule in _RULES if rule.pattern.search(text)]
