"""Identity documents and dates of birth: only with the words that say what the number or date is."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

from agent.pii.recognizers.context import NearbyWordsContext

_NUMBER_WORDS = r"(?:\s+(?:number|no\.?|num|#|id))?\s*(?:is|:|#|-)?\s*"


class DriverLicenseRecognizer(NearbyWordsContext, PatternRecognizer):
    """US driver's licence numbers. The formats of fifty states cover most short codes, so the shape is
    weak evidence (Presidio's stock recognizer scores it 0.3 and floods a support inbox) and the licence
    words carry the decision."""

    PATTERNS = [
        Pattern(
            "number after a licence cue (strong)",
            r"\b(?:driver'?s?|driving)\s+licen[cs]e" + _NUMBER_WORDS + r"\K[A-Z0-9](?:[A-Z0-9\-]{3,18})\b",
            0.8,
        ),
        Pattern("letter and digits (weak)", r"\b[A-Z]{1,2}\d{5,14}\b", 0.1),
        Pattern("digits (very weak)", r"(?<![\w\-$.])\b\d{7,9}\b(?![\-.]\d)", 0.05),
    ]
    CONTEXT = ["driver", "driving", "licence", "license", "dmv"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="US_DRIVER_LICENSE",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="DriverLicenseRecognizer",
            global_regex_flags=re.IGNORECASE,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        return not any(ch.isdigit() for ch in pattern_text)


class PassportRecognizer(NearbyWordsContext, PatternRecognizer):
    """Passport numbers of any country: six to nine letters and digits after the word passport."""

    PATTERNS = [
        Pattern(
            "number after a passport cue (strong)",
            r"\bpassport" + _NUMBER_WORDS + r"\K[A-Z0-9]{6,9}\b",
            0.8,
        ),
        Pattern("letters and digits (weak)", r"\b[A-Z]{1,2}\d{6,8}\b", 0.1),
    ]
    CONTEXT = ["passport"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PASSPORT",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="PassportRecognizer",
            global_regex_flags=re.IGNORECASE,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        return sum(ch.isdigit() for ch in pattern_text) < 5


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"


class DateOfBirthRecognizer(NearbyWordsContext, PatternRecognizer):
    """A date is only personal as a birth date; order and delivery dates must stay readable for tools."""

    PATTERNS = [
        Pattern(
            "numeric date (weak)",
            r"(?<![\w\-/.])\d{1,2}[/.\-]\d{1,2}[/.\-](?:19|20)?\d{2}\b(?![/.\-]\d)",
            0.1,
        ),
        Pattern("ISO date (weak)", r"(?<![\w\-/.])(?:19|20)\d{2}-\d{2}-\d{2}\b", 0.1),
        Pattern(
            "written date (weak)",
            r"\b(?:\d{1,2}(?:st|nd|rd|th)?\s+"
            + _MONTH
            + r",?\s+|"
            + _MONTH
            + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+)"
            r"(?:19|20)\d{2}\b",
            0.1,
        ),
    ]
    CONTEXT = ["birth", "born", "dob", "d.o.b", "birthday", "birthdate"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="DATE_OF_BIRTH",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="DateOfBirthRecognizer",
            global_regex_flags=re.IGNORECASE,
        )
