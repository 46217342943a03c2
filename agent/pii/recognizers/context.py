"""Context words looked up in the raw text around a match, for recognizers whose evidence is nearby words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import regex
from presidio_analyzer import RecognizerResult

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts


class NearbyWordsContext:
    """Mixin for PatternRecognizer: boost a match when one of `context` starts a word close to it.

    Presidio's lemma enhancer skips spaCy stop words ("call" is one), counts the match's own tokens as
    context words (so a four-group phone number never sees "office" after it) and does not cross token
    boundaries like "8211-Office". Looking at characters before and after the match avoids all three;
    the enhancer then leaves these results alone.
    """

    CHARS_BEFORE = 48
    CHARS_AFTER = 24
    BOOST = 0.35
    MIN_SCORE_WITH_CONTEXT = 0.4

    context: list[str]
    _context_regex: Any = None

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts | None,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        words = self._words_regex()
        for result in raw_recognizer_results:
            before = text[max(0, result.start - self.CHARS_BEFORE) : result.start]
            after = text[result.end : result.end + self.CHARS_AFTER]
            found = words.search(before) or words.search(after) or _any_in(words, context)
            if found:
                result.score = min(1.0, max(result.score + self.BOOST, self.MIN_SCORE_WITH_CONTEXT))
                if result.analysis_explanation is not None:
                    result.analysis_explanation.set_supportive_context_word(found.group())
                    result.analysis_explanation.set_improved_score(result.score)
            # Either way the lemma enhancer must not boost it a second time.
            result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return raw_recognizer_results

    def _words_regex(self) -> Any:
        if self._context_regex is None:
            alternatives = "|".join(
                regex.escape(word) for word in sorted(with_typos(self.context), key=len, reverse=True)
            )
            self._context_regex = regex.compile(r"(?<![\p{L}\d])(?:" + alternatives + r")", regex.IGNORECASE)
        return self._context_regex


def with_typos(words: list[str]) -> set[str]:
    """The words and their one-swap typos ("potsal code", "adahar"): customers type fast. Only words of six
    letters or more, where a swapped pair is still unmistakable."""
    out = set(words)
    for word in words:
        if len(word) >= 6:
            for i in range(len(word) - 1):
                if word[i].isalpha() and word[i + 1].isalpha() and word[i] != word[i + 1]:
                    out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    return out


def _any_in(words: Any, context: list[str] | None) -> Any:
    for word in context or []:
        match = words.match(word)
        if match:
            return match
    return None
