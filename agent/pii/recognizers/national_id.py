"""National identifiers beyond the US SSN: Presidio's own recognizers where they hold up, with our context."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    AuTfnRecognizer,
    CaSinRecognizer,
    InAadhaarRecognizer,
    InPanRecognizer,
    UkNinoRecognizer,
)

from agent.pii.recognizers.context import NearbyWordsContext

# Customers name the number of one country with the word of another ("my SSN is QQ 12 34 56 C"), so every
# national identifier listens to the generic words too.
_GENERIC = ["ssn", "social security", "national id", "id number", "tax id", "taxpayer", "identity number"]


class NinoRecognizer(NearbyWordsContext, UkNinoRecognizer):
    """UK National Insurance numbers: Presidio's pattern already encodes the prefix rules (no D, F, I, Q, U,
    V first; no D, F, I, O, Q, U, V second; never BG, GB, KN, NK, NT, TN, ZZ); its lemma context misses
    "NI no" and "NINO:", which our nearby-word context finds."""

    CONTEXT = ["national insurance", "ni number", "ni no", "nino", "nin", *_GENERIC]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(context=self.CONTEXT, supported_language=supported_language, name="NinoRecognizer")


class SinRecognizer(NearbyWordsContext, CaSinRecognizer):
    """Canadian Social Insurance Numbers: Presidio's Luhn-checked recognizer, dashes and our context added."""

    PATTERNS = [
        *CaSinRecognizer.PATTERNS,
        Pattern("SIN dashed or spaced (medium)", r"\b[1-79]\d{2}[- ]\d{3}[- ]\d{3}\b", 0.5),
    ]
    CONTEXT = ["sin", "social insurance", "nas", "assurance sociale", *_GENERIC]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="SinRecognizer",
        )


class TfnRecognizer(NearbyWordsContext, AuTfnRecognizer):
    """Australian Tax File Numbers, weighted mod-11 checksum. Presidio's version scores every nine-digit run
    that passes the checksum as certain (one random number in eleven does); here a passing checksum only
    keeps the weak pattern score, so a TFN word nearby decides, and a failing one drops the match."""

    PATTERNS = [
        Pattern("TFN grouped (weak)", r"\b\d{3}[ \-]\d{3}[ \-]\d{3}\b", 0.1),
        Pattern("TFN (very weak)", r"\b\d{9}\b", 0.01),
    ]
    # A passing checksum and the number's own word: surer than a phone number's shape.
    MIN_SCORE_WITH_CONTEXT = 0.8
    CONTEXT = ["tax file", "tfn", *_GENERIC]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="TfnRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool | None:  # type: ignore[override]
        return None if super().validate_result(pattern_text) else False


class AadhaarRecognizer(NearbyWordsContext, InAadhaarRecognizer):
    """Indian Aadhaar numbers, Verhoeff check digit. As with the TFN, Presidio would make every twelve-digit
    run with a valid check digit (one in ten) certain; a valid one here still needs an Aadhaar word nearby."""

    # A passing checksum and the number's own word: surer than a phone number's shape.
    MIN_SCORE_WITH_CONTEXT = 0.8
    CONTEXT = ["aadhaar", "aadhar", "adhaar", "uidai", "uid", *_GENERIC]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            context=self.CONTEXT, supported_language=supported_language, name="AadhaarRecognizer"
        )

    def validate_result(self, pattern_text: str) -> bool | None:  # type: ignore[override]
        return None if super().validate_result(pattern_text) else False


class PanRecognizer(NearbyWordsContext, InPanRecognizer):
    """Indian PAN: five letters (the fourth names the holder's type), four digits, a letter. Presidio's
    lowest pattern (any ten characters with four digits) is left out: near the word "pan" it would take the
    SKU of a frying pan."""

    PATTERNS = InPanRecognizer.PATTERNS[:2]
    CONTEXT = ["permanent account number", "pan", *_GENERIC]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="PanRecognizer",
        )


class PpsRecognizer(NearbyWordsContext, PatternRecognizer):
    """Irish Personal Public Service numbers: seven digits, a mod-23 check letter and, since 2013, a second
    letter (W, A, H, ...). Presidio ships no recognizer for it."""

    PATTERNS = [Pattern("PPS number (medium)", r"\b\d{7}[A-W][A-Z]?\b", 0.5)]
    # A passing checksum and the number's own word: surer than a phone number's shape.
    MIN_SCORE_WITH_CONTEXT = 0.8
    CONTEXT = ["pps", "ppsn", "personal public service", "revenue", *_GENERIC]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="IE_PPS",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="PpsRecognizer",
            global_regex_flags=re.IGNORECASE,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return None if pps_checksum_ok(pattern_text) else False


def pps_checksum_ok(value: str) -> bool:
    value = value.upper()
    digits, check, second = value[:7], value[7], value[8:9]
    total = sum(int(d) * w for d, w in zip(digits, range(8, 1, -1), strict=True))
    total += 9 * (ord(second) - 64 if second and second != "W" else 0)
    return check == ("W" if total % 23 == 0 else chr(64 + total % 23))
