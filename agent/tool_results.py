"""Tool results reach the model with personal fields replaced by the conversation's placeholders.

Results are structured, so they are redacted field by field instead of by guessing: NER over product
names, prices and tracking numbers mistakes them for people and phone numbers and corrupts the facts
the model must relay. Free-text fields (notes, messages) still go through the full redactor.
"""

from __future__ import annotations

from typing import Any

PERSONAL_FIELDS: dict[str, str] = {
    "street": "ADDRESS",
    "street2": "ADDRESS",
    "postal_code": "ZIP",
    "email": "EMAIL",
    "phone": "PHONE",
    "customer_name": "PERSON",
    "recipient_name": "PERSON",
}
FREE_TEXT_FIELDS = frozenset({"note", "summary", "decision_note", "passage"})  # passage: search_knowledge


def redact_result(
    redactor: Any, result: Any, *, tenant: str, conversation_id: str
) -> tuple[Any, dict[str, int]]:
    counts: dict[str, int] = {}

    def placeholder(kind: str, value: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return str(redactor.vault.placeholders_for(tenant, conversation_id, [(kind, value)])[0])

    def free_text(value: str) -> str:
        redaction = redactor.redact(value, tenant=tenant, conversation_id=conversation_id)
        for kind, count in redaction.counts.items():
            counts[kind] = counts.get(kind, 0) + count
        return str(redaction.text)

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, str) and value.strip() and key is not None:
            if key in PERSONAL_FIELDS:
                return placeholder(PERSONAL_FIELDS[key], value)
            if key in FREE_TEXT_FIELDS:
                return free_text(value)
        return value

    return walk(result), counts
