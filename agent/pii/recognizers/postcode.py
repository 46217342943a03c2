"""Postcodes and ZIP codes: distinctive national formats alone, plain digit codes only when labelled."""

from __future__ import annotations

from typing import TYPE_CHECKING

import regex
from presidio_analyzer import (
    AnalysisExplanation,
    LocalRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)

from agent.pii.recognizers.context import NearbyWordsContext, with_typos

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

_CUE = (
    r"(?i:zip|zip\s*code|zipcode|post\s*code|postcode|postal\s*code|plz|eircode|"
    + "|".join(sorted(with_typos(["postcode", "postal code", "zipcode", "eircode"]) - {"postcode"}, key=len))
    + ")"
)
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
            r"\b" + _CUE + r"(?:\s+(?i:is|si|was))?\s*[:#\-]?\s*\K(?i:" + _ANY_CODE + r")\b",
            0.85,
        ),
        Pattern("US state and ZIP (medium)", r"\s\b[A-Z]{2}\s{1,2}\K\d{5}(?:-\d{4})?\b", 0.5),
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


# Four or five digits (or 3+2, 2-3, 5-3) directly after the place, not followed by more number.
_CODE_AFTER_PLACE = regex.compile(
    r"[ \t]*,?[ \t]*(\d{5}-\d{3}|\d{4,5}|\d{3}[ ]\d{2}|\d{2}-\d{3})\b(?![.,/:\-]?\d)"
)


class PostcodeAfterPlaceRecognizer(LocalRecognizer):
    """A code right after a place spaCy's NER found ("Costamezzana 43015", "Berlin, 10435"): the part of
    postcode detection that needs the model, so it runs in the analyzer's model pass."""

    NAME = "PostcodeAfterPlaceRecognizer"
    SCORE = 0.5

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=["ZIP_CODE"], supported_language=supported_language, name=self.NAME
        )

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None or nlp_artifacts.tokens is None:
            return []
        found = []
        for entity in nlp_artifacts.tokens.ents:
            if entity.label_ not in {"GPE", "LOC"}:
                continue
            code = _CODE_AFTER_PLACE.match(text, entity.end_char)
            if code:
                found.append(
                    RecognizerResult(
                        entity_type="ZIP_CODE",
                        start=code.start(1),
                        end=code.end(1),
                        score=self.SCORE,
                        analysis_explanation=AnalysisExplanation(
                            recognizer=self.NAME,
                            original_score=self.SCORE,
                            textual_explanation="A postcode-shaped number right after a place name",
                        ),
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
                        },
                    )
                )
        return found
