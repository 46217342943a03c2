"""Payment details beside the card number: expiry dates, security codes and bank account numbers."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer

from agent.pii.recognizers.context import NearbyWordsContext

_NOT_AN_ID = r"(?<![\w\-/.$€£])"  # not part of ORD-123456, a path, a price or a decimal


class CardNumberRecognizer(NearbyWordsContext, CreditCardRecognizer):
    """Presidio's card recognizer (Luhn-checked) plus the lengths and prefixes its pattern misses:
    18-19 digit Visa, Maestro and UnionPay numbers, 15-digit JCB (2131...) and 2-series Mastercard."""

    PATTERNS = [
        *CreditCardRecognizer.PATTERNS,
        # Every issuer prefix (1 UATP, 2 Mastercard/JCB, 3-6 the rest) at 13-19 digits; Luhn decides.
        Pattern(
            "any card length (weak)",
            r"(?<!\d[- ]?)\b[1-6]\d{3}(?:[- ]?\d{4}){2}[- ]?\d{1,4}(?:[- ]?\d{1,3})?\b",
            0.3,
        ),
        # Maestro issues 12-digit cards in the 50 and 56-69 ranges.
        Pattern(
            "Maestro 12 digits (weak)",
            r"(?<!\d[- ]?)\b(?:5[06-9]|6\d)\d{2}[- ]?\d{4}[- ]?\d{4}\b(?![- ]?\d)",
            0.3,
        ),
    ]

    # Looked up in the characters around the number (Presidio's "cc " never equals a lemma).
    CONTEXT = [
        *(word.strip() for word in CreditCardRecognizer.CONTEXT),
        "debit",
        "refund",
        "charge",
        "paid",
        "payment",
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="CardNumberRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool | None:  # type: ignore[override]
        valid = super().validate_result(pattern_text)
        # Twelve or thirteen digits in one run pass Luhn one time in ten (tracking numbers do): written so,
        # a card needs a card word nearby; grouped like a card, or longer, the checksum settles it.
        if valid and pattern_text.isdigit() and len(pattern_text) <= 13:
            return None
        return valid


class CardExpiryRecognizer(NearbyWordsContext, PatternRecognizer):
    """`exp 04/27`, `valid thru 12/2026`: harmless as a date, personal next to a card number."""

    PATTERNS = [
        Pattern(
            "expiry after a cue (strong)",
            r"\b(?:exp(?:iry|iration|ires|\.)?|valid\s+(?:thru|through|until|till)|good\s+thru)"
            r"(?:\s+date)?\s*(?:is|:|-)?\s*\K(?:0?[1-9]|1[0-2])\s?[/\-]\s?(?:\d{2}|20\d{2})\b",
            0.8,
        ),
        Pattern("month/year (weak)", _NOT_AN_ID + r"\b(?:0[1-9]|1[0-2])\s?/\s?(?:\d{2}|20\d{2})\b(?!/)", 0.1),
    ]
    CONTEXT = ["expiry", "expires", "expiration", "exp ", "exp.", "exp:", "valid thru", "valid through"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="CARD_EXPIRY",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="CardExpiryRecognizer",
            global_regex_flags=re.IGNORECASE,
        )


class CardSecurityCodeRecognizer(PatternRecognizer):
    """Three or four digits are only a card security code when the text says so."""

    PATTERNS = [
        Pattern(
            "code after a cue (strong)",
            r"\b(?:cvv2?|cvc2?|cid|security\s+code|card\s+code|card\s+verification(?:\s+code)?)"
            r"\s*(?:is|:|#|-|number)?\s*\K\d{3,4}\b",
            0.8,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="CARD_SECURITY_CODE",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            name="CardSecurityCodeRecognizer",
            global_regex_flags=re.IGNORECASE,
        )


def _iban_checksum_ok(value: str) -> bool:
    compact = re.sub(r"\s", "", value).upper()
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


class AccountNumberRecognizer(NearbyWordsContext, PatternRecognizer):
    """Bank account numbers, sort codes and IBAN-shaped strings whose checksum fails (typos are still PII).

    Bare digit runs are everywhere in support mail (order totals, tracking numbers), so a run only counts
    next to a word such as "account", "IBAN" or "sort code".
    """

    PATTERNS = [
        Pattern(
            "IBAN shape (medium)",
            r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b",
            0.4,
        ),
        Pattern(
            "number after an account cue (strong)",
            r"\b(?i:account|acct|a/c)(?:\s+(?i:number|no\.?|#))?\s*(?:(?i:is)|:|#)?\s*\K"
            r"\d[\d \-]{4,24}\d\b",
            0.7,
        ),
        Pattern("digit run (very weak)", _NOT_AN_ID + r"\b\d{6,17}\b(?![\-.,]\d)", 0.05),
        Pattern(
            "grouped digits (very weak)", _NOT_AN_ID + r"\b\d{3,6}(?:[ \-]\d{3,6}){1,3}\b(?![\-.,]\d)", 0.05
        ),
        Pattern("sort code (very weak)", _NOT_AN_ID + r"\b\d{2}-\d{2}-\d{2}\b(?!-)", 0.05),
    ]
    CONTEXT = ["account", "acct", "a/c", "iban", "routing", "sort code", "bank", "bic", "swift", "transfer"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="BANK_ACCOUNT",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="AccountNumberRecognizer",
            global_regex_flags=0,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = re.sub(r"\D", "", pattern_text)
        if digits and len(set(digits)) == 1:
            return True
        # A valid IBAN is reported by Presidio's IbanRecognizer as IBAN_CODE; do not double it.
        return bool(re.match(r"[A-Z]{2}\d{2}", pattern_text)) and _iban_checksum_ok(pattern_text)
