"""Names found by the names themselves: a known given name beside a surname, in any case, with no cue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import regex
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult

from agent.pii.gazetteer import first_names, surnames
from agent.pii.recognizers.person import is_name_word

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

_WORD = regex.compile(r"\p{L}[\p{L}'’]*(?:-\p{L}[\p{L}'’]*)?")
# Who else speaks in a chat transcript: with one of these on a line of its own, the other speakers are people.
_ROLES = frozenset("agent support bot assistant operator rep advisor adviser staff system".split())  # noqa: SIM905
_SPEAKER = regex.compile(r"^[ \t>]*(\p{L}[\p{L}'’\-]+)[ \t]*:", regex.MULTILINE)
# A name is rarely the object of a determiner; a product or a place in a product name often is.
_DETERMINERS = frozenset("the a an this that these those your our their its my his her".split())  # noqa: SIM905


_CONTEXT = regex.compile(
    r"(?i:\b(?:name|named|called|regards|thanks|thank\s+you|cheers|sincerely|best|dear|hi|hello|hey|from|"
    r"mr|mrs|ms|miss|dr|recipient|holder|customer|contact|signed|attn|c/o|behalf|told|ask|spoke|for)\b)"
)


def _has_context(text: str, start: int, end: int) -> bool:
    """A cue word in the 40 characters before the pair, or the pair alone on its line (a signature)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end == -1 else line_end]
    return (
        line.strip(" \t,.;:-") == text[start:end]
        or _CONTEXT.search(text, max(0, start - 40), start) is not None
    )


class GazetteerNameRecognizer(LocalRecognizer):
    """ "Clare Townsend again", "irene pugh-short", "michelle: ...": two adjacent words where the first is a
    known given name and the second a known surname (or, capitalised, any word that is not an English word),
    and chat speakers whose name is a known given name.

    spaCy's small model misses names with no sentence around them and every lower-case name. The gazetteers
    (`agent.pii.gazetteer`) hold about 12,000 given names and 11,000 surnames; an English word list taken from
    the spaCy model's lemmatizer keeps "Victoria Falls" and "summer camp" out (when both words are English
    words the pair is not taken on the gazetteers alone).
    """

    ENTITIES = ["PERSON"]
    NAME = "GazetteerNameRecognizer"
    SCORE = 0.6
    WEAK_SCORE = 0.3

    def __init__(self, english_words: Iterable[str] = (), supported_language: str = "en") -> None:
        self.english_words = frozenset(english_words)
        super().__init__(
            supported_entities=self.ENTITIES, supported_language=supported_language, name=self.NAME
        )

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        firsts, lasts = first_names(), surnames()
        caseless = text == text.lower() or text == text.upper()
        words = list(_WORD.finditer(text))
        results = []
        for i, (one, two) in enumerate(zip(words, words[1:], strict=False)):
            if text[one.end() : two.start()] not in {" ", "\t"}:
                continue
            first, last = one.group(), two.group()
            if not (is_name_word(first) and is_name_word(last)) or first.lower() not in firsts:
                continue
            if (
                i > 0
                and words[i - 1].group().lower() in _DETERMINERS
                and words[i - 1].end() + 1 == one.start()
            ):
                continue
            score = self._score(first, last, caseless, lasts)
            if score and score < self.SCORE and _has_context(text, one.start(), two.end()):
                score = self.SCORE
            if score:
                results.append(self._result(one.start(), two.end(), score, "a known given name and surname"))
        speakers = list(_SPEAKER.finditer(text))
        transcript = any(s.group(1).lower() in _ROLES for s in speakers)
        for speaker in speakers:
            word = speaker.group(1)
            if is_name_word(word) and (word.lower() in firsts or (transcript and word.lower() not in _ROLES)):
                results.append(self._result(speaker.start(1), speaker.end(1), self.SCORE, "a chat speaker"))
        return results

    def _score(self, first: str, last: str, caseless: bool, lasts: frozenset[str]) -> float | None:
        known_last = last.lower().split("-")[0] in lasts
        english = first.lower() in self.english_words, last.lower().split("-")[0] in self.english_words
        capitalised = first[0].isupper() and last[0].isupper() and not caseless
        if not capitalised and first[0].isupper() != last[0].isupper():
            return None
        if all(english):
            # "Victoria Falls", "dakota young": two English words are a name only with a cue (below).
            return self.WEAK_SCORE if known_last else None
        if capitalised:
            return self.SCORE if known_last or not english[1] else None
        return self.SCORE if known_last else None

    def _result(self, start: int, end: int, score: float, why: str) -> RecognizerResult:
        return RecognizerResult(
            entity_type="PERSON",
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.NAME, original_score=score, textual_explanation=f"Name: {why}"
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
