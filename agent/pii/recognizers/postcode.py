"""Postcodes and ZIP codes: distinctive national formats alone, plain digit codes only when labelled."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from agent.pii.recognizers.context import NearbyWordsContext

_CUE = r"(?i:zip|zip\s*code|zipcode|post\s*code|postcode|postal\s*code|plz|eircode)"
# A national postcode format: US ZIP(+4), Brazil, Poland, Sweden/Czechia/Slovakia/Greece, Netherlands,
# Canada, UK, Ireland and the bare 3-6 digit codes of most of Europe.
_ANY_CODE = (
    r"(?:\d{5}(?:-\d{4}|-\d{3})?|\d{2}-\d{3}|\d{3}\s\d{2}|\d{4}\s?[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d"
    r"|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d{2}\s?[A-Z\d]{4}|\d{3,6})"
)


class ZipCodeRecognizer(NearbyWordsContext, PatternRecognizer):
    """`ZIP: 7412 SL`, `my postcode is SW1A 1AA`, `Springfield, IL 62704`.

    Four- and five-digit numbers are prices, years and quantities far more often than postcodes, so bare
    digits count only right after a postcode word or a US state code; formats that cannot be anything
    else (UK, Canada, ZIP+4) count on their own.
    """

    PATTERNS = [
        Pattern(
            "code after a postcode cue (strong)",
            r"(?<=\b" + _CUE + r"(?:\s+is)?\s*[:#\-]?\s*)" + _ANY_CODE + r"\b",
            0.85,
        ),
        Pattern("US state and ZIP (medium)", r"(?<=,?\s\b[A-Z]{2}\s{1,2})\d{5}(?:-\d{4})?\b", 0.5),
        Pattern("ZIP+4 (medium)", r"\b\d{5}-\d{4}\b", 0.5),
        Pattern("UK postcode (medium)", r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)\s\d[ABD-HJLNP-UW-Z]{2}\b", 0.6),
        Pattern(
            "Canadian postcode (medium)",
            r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b",
            0.6,
        ),
        Pattern("five digits (very weak)", r"(?<![\w\-$.#/])\b\d{5}\b(?![\-.,/]\d)", 0.05),
    ]
    CONTEXT = ["zip", "postcode", "postal", "post code", "plz"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="ZIP_CODE",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="ZipCodeRecognizer",
            global_regex_flags=0,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        # "00000" or "11111" is a placeholder someone typed, not a postcode.
        return pattern_text.isdigit() and len(set(pattern_text)) == 1
