"""The analyzer Deskpilot redacts with: Presidio, then names spread, our ids spared, overlaps merged."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import regex
from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from agent.pii.gazetteer import first_names, surnames
from agent.pii.names import propagate_names
from agent.pii.recognizers.person import is_name_word, words_after_cues

# Deskpilot's own identifiers, placeholders and amounts: tools need them verbatim and none is personal.
PROTECTED = regex.compile(
    r"\b(?i:ORD|CUS|TCK|RF|APR|APV|REQ|INV|SKU)-[A-Za-z0-9][A-Za-z0-9\-]*\b"  # order, customer, ticket...
    r"|(?<![@.\w])[A-Z]{2,5}(?:-[A-Z0-9]{1,12}){1,4}\b(?![@]|\.\w)"  # SKUs: NB-TENT-2P, not in e-mails
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # request UUIDs
    r"|\b(?:apr|conv|key)_[0-9a-f]{8,32}\b"  # approval, conversation and API key ids (api.models.new_id)
    r"|<[A-Z][A-Z_]*_\d+>"  # placeholders we wrote earlier
    r"|[$€£][ ]?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?[ ]?(?:USD|EUR|GBP)\b"  # money
)


class DeskpilotAnalyzer(AnalyzerEngine):
    """An AnalyzerEngine whose results can be replaced one by one: no overlaps, no Deskpilot ids.

    Presidio returns overlapping results of different types (a ZIP inside an address block) and knows
    nothing of the identifiers our tools need; both are settled here, after names found once are spread
    to their other mentions in the same message.
    """

    def __init__(
        self,
        *args: Any,
        english_words: frozenset[str] = frozenset(),
        common_words: frozenset[str] | None = None,
        model_pass: AnalyzerEngine | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.english_words = english_words
        # English words with a verb, adjective or adverb sense: never a proper noun alone.
        self.common_words = english_words if common_words is None else common_words
        # The recognizers that read spaCy's tags and entities, run only when `needs_model` says so.
        self.model_pass = model_pass

    def _names_a_thing(self, text: str, result: RecognizerResult) -> bool:
        """ "the Victoria Falls water filter", "3 Sierra Camp stoves": counted or determined, and ending in an
        English word that is no surname, it is a thing ("a Harvey Leach concert" stays a name)."""
        if _THING_BEFORE.search(text, max(0, result.start - 12), result.start) is None:
            return False
        last = _last_word(text[result.start : result.end])
        return last in self.english_words and last not in surnames()

    def analyze(self, text: str, language: str, **kwargs: Any) -> list[RecognizerResult]:  # type: ignore[override]
        allow_list = kwargs.pop("allow_list", None) or ()
        artifacts = kwargs.pop("nlp_artifacts", None)
        if artifacts is None:
            # spaCy reads every word of an all-capitals message as a name; it reads the lower-case text well
            # enough, and the offsets are the same.
            analysed = text.lower() if _shouting(text) else text
            artifacts = self._tokenize(analysed, language)
        results = super().analyze(text, language, nlp_artifacts=artifacts, **kwargs)
        if self.model_pass is not None and self.needs_model(artifacts, results):
            complete = self.nlp_engine.complete(artifacts, language)  # type: ignore[attr-defined]
            results += self.model_pass.analyze(text, language, nlp_artifacts=complete, **kwargs)
        results = spare_protected(text, results)
        results = [r for r in results if r.entity_type != "PERSON" or _has_name_word(text[r.start : r.end])]
        results = [r for r in results if r.entity_type != "PERSON" or not self._names_a_thing(text, r)]
        if text == text.lower():
            # spaCy calls random lower-case words people ("please cancel"): keep guesses with a known name.
            results = [r for r in results if not _unfounded_guess(text, r)]
        results = spare_allowed(text, results, allow_list)
        results = results + propagate_names(text, results)
        results = spare_allowed(text, results, allow_list)
        results = merge_overlaps(results)
        threshold = kwargs.get("score_threshold")
        threshold = self.default_score_threshold if threshold is None else threshold
        return [r for r in results if r.score >= threshold]

    def _tokenize(self, text: str, language: str) -> NlpArtifacts:
        tokenize = getattr(self.nlp_engine, "tokenize", None)
        if self.model_pass is None or tokenize is None:
            return self.nlp_engine.process_text(text, language)
        return tokenize(text, language)

    def needs_model(self, artifacts: NlpArtifacts, found: list[RecognizerResult]) -> bool:
        """Whether a word the rules could not place might be a name or a place: spaCy's model (~11 of the
        ~17 ms a 250-character message costs) runs only then.

        A word is placed when a result or one of our ids covers it, when it is a stop or courtesy word, when
        it is capitalised and a common English word (a verb, adjective or adverb sense) that is no known
        given name or surname ("Order", "Summit Light"), or when it is in lower case and neither a given
        name that is no common word ("timothy") nor a surname that is no English word ("pugh"), nor a given
        name beside another name. Any other word, and a word right after a name cue that no result covers
        ("Thanks,\nroger potter"), sends the message through the model: the rules explain most messages,
        and the model sees every message they cannot.
        """
        doc = artifacts.tokens
        text = doc.text
        covered = [(r.start, r.end) for r in found] + [m.span() for m in PROTECTED.finditer(text)]
        firsts, lasts = first_names(), surnames()
        tokens = list(doc)
        for i, token in enumerate(tokens):
            word = token.text
            if not word[:1].isalpha() or not is_name_word(word):
                continue
            if any(start < token.idx + len(word) and token.idx < end for start, end in covered):
                continue
            low = _POSSESSIVE.sub("", token.lower_).rstrip(".")
            given, surname = low in firsts, low.split("-")[0] in lasts
            english = _in_word_list(low, self.english_words)
            if word[:1].isupper():
                # WordNet holds proper nouns too ("catherine", "denver"), as nouns only: a capitalised word
                # counts as ordinary only when it is also a verb, adjective or adverb ("Order", "Summit").
                if given or surname or not _in_word_list(low, self.common_words):
                    return True
            elif (given and not _in_word_list(low, self.common_words)) or (surname and not english):
                return True  # "timothy", "pugh": a given name no verb or adjective, a surname no word
            elif given and _beside_a_name(tokens, i, firsts, lasts):
                return True  # "stephen french", "timothy arnold": English words, and a full name
        # A word right after a cue ("Thanks,\nroger potter") that no rule took.
        return any(
            not any(start < end_ and start_ < end for start_, end_ in covered)
            for start, end in words_after_cues(text)
        )


def _in_word_list(word: str, words: frozenset[str]) -> bool:
    """In `words` as written or as a regular inflection ("forwarded", "lanterns", "tries"): the first pass
    has no lemmatizer to say so."""
    if word in words:
        return True
    for suffix, replacement in _INFLECTIONS:
        if (
            word.endswith(suffix)
            and len(word) > len(suffix) + 2
            and word[: -len(suffix)] + replacement in words
        ):
            return True
    return False


_INFLECTIONS = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ied", "y"),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
)


def _beside_a_name(tokens: list[Any], i: int, firsts: frozenset[str], lasts: frozenset[str]) -> bool:
    neighbours = [tokens[j].lower_ for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
    return any(is_name_word(word) and (word in lasts or word in firsts) for word in neighbours)


_POSSESSIVE = regex.compile(r"['’]s$")
_THING_BEFORE = regex.compile(
    r"(?i:\b(?:the|a|an|this|that|these|those|your|our|their|its|my)|\d{1,3})[ \t]+\Z"
)


def _last_word(value: str) -> str:
    words = value.split()
    return words[-1].strip(".,;:!?'\"").lower() if words else ""


def _unfounded_guess(text: str, result: RecognizerResult) -> bool:
    if result.entity_type != "PERSON":
        return False
    if (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY) != "SpacyRecognizer":
        return False
    words = [w.strip(".,;:!?'\"") for w in text[result.start : result.end].lower().split()]
    return not any(w in first_names() or w in surnames() for w in words)


def _shouting(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) > 12 and text == text.upper() and len(text.lower()) == len(text)


def _has_name_word(value: str) -> bool:
    # spaCy calls "Madam" or "Sir" a person now and then; a name needs at least one word that can be one.
    return any(is_name_word(word.strip(".,;:!?'\"")) for word in value.split())


def spare_allowed(
    text: str, results: list[RecognizerResult], allow_list: Iterable[str]
) -> list[RecognizerResult]:
    """Drop detections that are a value the tenant allows (its staff names) as a whole, whatever its case
    or spacing: a detection inside one, or one whose only name words lie inside one ("Anna Lee's").
    A customer who shares a staff member's first name ("Anna Smith" beside staff "Anna Lee") is still
    redacted, and so is "Anna" alone unless the tenant lists "Anna" itself."""
    pattern = _allowed_pattern(tuple(allow_list))
    if pattern is None:
        return results
    spans = [m.span() for m in pattern.finditer(text)]
    if not spans:
        return results
    kept = []
    for result in results:
        inside = [(s, e) for s, e in spans if s < result.end and result.start < e]
        if inside and not _name_word_outside(text, result.start, result.end, inside):
            continue
        kept.append(result)
    return kept


@functools.lru_cache(maxsize=256)
def _allowed_pattern(values: tuple[str, ...]) -> regex.Pattern[str] | None:
    """One pattern for a tenant's whole list, compiled once per list (it is the same at every turn)."""
    names = sorted({" ".join(value.split()) for value in values if value.strip()}, key=len, reverse=True)
    if not names:
        return None
    alternatives = "|".join(r"[ \t\n]+".join(regex.escape(word) for word in name.split()) for name in names)
    return regex.compile(r"(?<![\p{L}\d])(?:" + alternatives + r")(?![\p{L}\d])", regex.IGNORECASE)


def _name_word_outside(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    covered = [False] * (end - start)
    for s, e in spans:
        for i in range(max(s, start), min(e, end)):
            covered[i - start] = True
    rest = "".join(" " if covered[i - start] else text[i] for i in range(start, end))
    return any(is_name_word(word.strip(".,;:!?'\"()’")) for word in rest.split())


def spare_protected(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Drop results inside a protected span; trim those that only touch one."""
    spans = [m.span() for m in PROTECTED.finditer(text)]
    if not spans:
        return results
    kept = []
    for result in results:
        start, end = result.start, result.end
        for p_start, p_end in spans:
            if p_start < end and start < p_end:
                if start >= p_start and end <= p_end:
                    start = end  # wholly ours: drop
                elif p_start - start >= end - p_end:
                    end = p_start  # keep the longer side
                else:
                    start = p_end
        value = text[start:end].strip(" \t\n,;:-")
        if value and any(ch.isalnum() for ch in value):
            offset = text.index(value, start)
            result.start, result.end = offset, offset + len(value)
            kept.append(result)
    return kept


def merge_overlaps(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Union overlapping results; the longest (then the most certain) one names the merged span."""
    merged: list[RecognizerResult] = []
    cluster: list[RecognizerResult] = []
    for result in sorted(results, key=lambda r: (r.start, -r.end)):
        if cluster and result.start >= max(r.end for r in cluster):
            merged.append(_union(cluster))
            cluster = []
        cluster.append(result)
    if cluster:
        merged.append(_union(cluster))
    return merged


def _union(cluster: list[RecognizerResult]) -> RecognizerResult:
    if len(cluster) == 1:
        return cluster[0]
    leader = max(cluster, key=lambda r: (r.end - r.start, r.score))
    return RecognizerResult(
        entity_type=leader.entity_type,
        start=min(r.start for r in cluster),
        end=max(r.end for r in cluster),
        score=max(r.score for r in cluster),
        analysis_explanation=leader.analysis_explanation,
        recognition_metadata=leader.recognition_metadata,
    )
