"""Phone numbers written the way people type them: grouped digits, local formats, no country code."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import phonenumbers
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from agent.pii.recognizers.context import NearbyWordsContext

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

# Digit groups separated by one space, dot or dash; not glued to letters or to our ids (ORD-123456).
_EDGE_BEFORE = r"(?<![\w\-/.$€£+])(?<!\d,)"
_EXTENSION = r"(?:[ ]?,?[ ]?\(?(?:x|ext\.?|extension)[ ]?\d{1,5}\)?)?"
_EDGE_AFTER = _EXTENSION + r"(?![\w/]|[-.,]\d)"
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")


class GroupedPhoneRecognizer(NearbyWordsContext, PatternRecognizer):
    """Numbers that libphonenumber cannot place in a region without the country code (`78 651 450`).

    Presidio's PhoneRecognizer validates per region and so misses short European numbers; here the shape
    alone is weak evidence and a nearby word such as "phone", "mobile" or "fax" makes it a phone number.
    Explicit international (`+46 (0)8 …`) and area-code (`(37) 788-063`) forms are strong on their own.
    """

    PATTERNS = [
        Pattern(
            "international (strong)",
            _EDGE_BEFORE.replace("+", "")
            + r"\+\d{1,3}(?:[ .\-]?\(0\))?(?:[ .\-]?\(?\d{1,5}\)?){2,6}"
            + _EDGE_AFTER,
            0.7,
        ),
        Pattern(
            "area code in parentheses (medium)",
            _EDGE_BEFORE + r"(?:1[ .\-]?)?\(\d{2,4}\)[ .\-]?\d{2,4}(?:[ .\-]?\d{2,4}){1,3}" + _EDGE_AFTER,
            0.6,
        ),
        Pattern(
            "grouped digits (weak)",
            _EDGE_BEFORE + r"\d{1,5}(?:[ .\-]\d{2,8}){1,4}" + _EDGE_AFTER,
            0.3,
        ),
        Pattern("unbroken digits (very weak)", _EDGE_BEFORE + r"0?\d{7,11}" + _EDGE_AFTER, 0.1),
    ]

    CONTEXT = [
        "phone",
        "mobile",
        "cell",
        "telephone",
        "tel:",
        "tel.",
        "fax",
        "office",
        "desk",
        "call",
        "ring",
        "text",
        "tel ",
        "sms",
        "whatsapp",
        "landline",
        "number",
        "reach",
        "contact",
        "answering",
        "message",
        "registered",
        "dial",
        "home",
        "work",
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="GroupedPhoneRecognizer",
            global_regex_flags=re.IGNORECASE,
        )

    LINE_SCORE = 0.5

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts | None,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        results = super().enhance_using_context(
            text, raw_recognizer_results, other_raw_recognizer_results, nlp_artifacts, context
        )
        for result in results:
            # A number alone on its line, as in a signature or a contact block, is a phone number.
            line_start = text.rfind("\n", 0, result.start) + 1
            line_end = text.find("\n", result.end)
            line = text[line_start : len(text) if line_end == -1 else line_end]
            if line.strip(" \t,.;:-") == text[result.start : result.end]:
                result.score = max(result.score, self.LINE_SCORE)
        return results

    def invalidate_result(self, pattern_text: str) -> bool:
        main = re.split(r"[\s,]*\(?(?:x|ext\.?|extension)\s?", pattern_text, flags=re.IGNORECASE)[0]
        digits = re.sub(r"\D", "", main)
        if not 7 <= len(digits) <= 15 or len(set(digits)) == 1:
            return True
        if _DATE_LIKE.match(main.strip()):
            return True
        # Four groups of four are card numbers (the card recognizer validates those).
        return bool(re.fullmatch(r"\d{4}([ \-])\d{4}\1\d{4}\1\d{4}", main))


# Words that make a bare digit run personal: a phone's, or a card's or an account's (then it is redacted as a
# phone number, which is better than not at all).
_PERSONAL_WORDS = re.compile(
    r"(?i:phone|mobile|cell|tel\b|telephone|call|ring|text|whatsapp|sms|fax|landline|contact|reach|dial|"
    r"card|cc\b|credit|debit|account|acct|iban)"
)


class DialablePhoneRecognizer(PhoneRecognizer):
    """Presidio's libphonenumber recognizer, minus bare digit runs nobody said were a phone number.

    libphonenumber reads a twelve-digit tracking number as a German or British number with its country code
    ("499856635441", "441284863469"); people write their own number with a "+", spaces or dashes, or near a
    word that says what it is.
    """

    # Presidio's regions without CA: Canada shares the US's country code and numbering plan, so the US pass
    # already finds every Canadian number (libphonenumber validates them as +1 numbers); a pass per region
    # is most of this recognizer's time.
    REGIONS = tuple(region for region in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS if region != "CA")

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_language=supported_language,
            name="DialablePhoneRecognizer",
            supported_regions=self.REGIONS,
        )

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        # Our own ids, amounts and placeholders are never phone numbers (the analyzer drops results inside
        # them anyway): blanked, libphonenumber does not try each of them in every region.
        from agent.pii.analyzer import PROTECTED

        blanked = PROTECTED.sub(lambda match: " " * len(match.group()), text)
        # Cards and IBANs their own recognizers redact are left to them; libphonenumber would try each digit
        # group of them in every region (most of this recognizer's time on a message holding one).
        blanked = _CARD_OR_IBAN.sub(_blank_if_certain, blanked)
        results = []
        for region in self.supported_regions:
            leniency = 1 if self.leniency is None else self.leniency  # 1: VALID, as Presidio defaults
            found = list(phonenumbers.PhoneNumberMatcher(blanked, region, leniency=leniency))
            for match in found:
                results.append(self._get_recognizer_result(match, text, region, nlp_artifacts))
                # Found in one region, a number need not be tried in the next ones (Presidio's loop does).
                blanked = blanked[: match.start] + " " * (match.end - match.start) + blanked[match.end :]
        return [r for r in EntityRecognizer.remove_duplicates(results) if not self._bare_run(text, r)]

    @staticmethod
    def _bare_run(text: str, result: RecognizerResult) -> bool:
        value = text[result.start : result.end]
        if not value.isdigit() or len(value) < 11:
            return False
        return _PERSONAL_WORDS.search(text, max(0, result.start - 40), result.start) is None


_CARD_OR_IBAN = re.compile(
    r"(?<![\w\-])(?:(?P<card>\d{4}(?P<sep>[ \-]?)\d{4}(?P=sep)\d{4}(?P=sep)\d{1,7})"
    r"|(?P<iban>[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?))(?![\w\-])"
)


def _blank_if_certain(match: re.Match[str]) -> str:
    """Blank a card- or IBAN-shaped value only when the card or IBAN recognizer alone, with no context
    word, already redacts it whole (a 13-digit run or a number starting with 0 is left to be a phone)."""
    value = match.group()
    if match.group("card") is not None and not luhn_ok(value):
        return value
    recognizer = _card_or_iban_recognizers()[0 if match.group("card") is not None else 1]
    found = recognizer.analyze(value, recognizer.supported_entities)
    certain = any(r.start == 0 and r.end == len(value) and r.score >= _CERTAIN for r in found)
    return " " * len(value) if certain else value


_CERTAIN = 0.9  # a validated card or IBAN scores 1.0 (Presidio's MAX_SCORE); patterns alone score less


@functools.cache
def _card_or_iban_recognizers() -> tuple[PatternRecognizer, PatternRecognizer]:
    from presidio_analyzer.predefined_recognizers import IbanRecognizer

    from agent.pii.recognizers.finance import CardNumberRecognizer

    return CardNumberRecognizer(), IbanRecognizer()


def luhn_ok(value: str) -> bool:
    digits = [int(ch) for ch in value if ch.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
