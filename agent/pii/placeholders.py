"""Placeholder names: `<PERSON_1>`, `<EMAIL_2>`; the short type table and the pattern that finds them."""

from __future__ import annotations

import re

# Presidio entity type -> the short type written in placeholders (and counted in `Redaction.counts`).
SHORT_TYPES: dict[str, str] = {
    "PERSON": "PERSON",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "CARD_EXPIRY": "CARD_EXPIRY",
    "CARD_SECURITY_CODE": "CVV",
    "IBAN_CODE": "IBAN",
    "BANK_ACCOUNT": "ACCOUNT",
    "US_BANK_NUMBER": "ACCOUNT",
    "US_SSN": "SSN",
    "US_ITIN": "ITIN",
    "UK_NINO": "NINO",
    "CA_SIN": "SIN",
    "AU_TFN": "TFN",
    "IN_AADHAAR": "AADHAAR",
    "IN_PAN": "PAN",
    "IE_PPS": "PPS",
    "IP_ADDRESS": "IP",
    "MAC_ADDRESS": "MAC",
    "STREET_ADDRESS": "ADDRESS",
    "ZIP_CODE": "ZIP",
    "US_DRIVER_LICENSE": "DRIVER_LICENSE",
    "PASSPORT": "PASSPORT",
    "US_PASSPORT": "PASSPORT",
    "DATE_OF_BIRTH": "DOB",
    "UK_NHS": "NHS",
    "CRYPTO": "CRYPTO",
    "LOCATION": "LOCATION",
    "URL": "URL",
}

PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_(\d+)>")


def short_type(entity_type: str) -> str:
    """The placeholder type for a Presidio entity type; unknown types keep a sanitised form of their name."""
    known = SHORT_TYPES.get(entity_type)
    if known:
        return known
    cleaned = re.sub(r"[^A-Z0-9]+", "_", entity_type.upper()).strip("_")
    return cleaned if cleaned and cleaned[0].isalpha() else "PII"


def make_placeholder(kind: str, number: int) -> str:
    return f"<{kind}_{number}>"
