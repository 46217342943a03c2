"""Person names spaCy's small model misses: lower-case names, names after cues, names with an initial."""

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
from spacy.lang.en.stop_words import STOP_WORDS

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

# Words that follow "Hi", "Dear", "I'm" and friends without being anyone's name.
NOT_NAMES = frozenset(
    "team support sir madam there all everyone everybody guys folks friend friends customer customers "  # noqa: SIM905 - a word list reads better as text
    "service sales staff again good morning afternoon evening thanks thank regards cheers sincerely "
    "best hello hi hey dear yes no ok okay sure please sorry writing contacting trying looking agent "
    "bot user admin manager colleague boss order account card refund ticket help today tomorrow "
    "yesterday asap urgent new not also street road avenue suite apt unit box person human someone "
    "somebody representative rep supervisor god monday tuesday wednesday thursday friday saturday "
    "sunday "
    # Field labels and line-opening verbs of forms, chats and headers ("SSN: ...", "Deliver to ...").
    "ssn ssns sin tfn ppsn pps nino ni itin pan aadhaar aadhar uid iban bic dob zip postcode tel phone "
    "mobile email e-mail address contact error ip date subject chat transcript deliver send ring call "
    "size details name room feb mar apr jun jul aug sep sept oct nov dec "
    "cancel return swap ship exchange track replace resend".split()
)
# Parts of speech a name never has (spaCy tags lower-case names as PROPN or NOUN, sometimes ADJ/VERB).
_NEVER_NAME_POS = frozenset(
    {"ADP", "AUX", "CCONJ", "DET", "NUM", "PART", "PRON", "PUNCT", "SCONJ", "SYM", "ADV"}
)

_TOKEN = regex.compile(r"[ \t]*(\p{L}[\p{L}'’\-]*\.?)")
_INITIAL = regex.compile(r"\p{L}\.?")

# (cue, score, lower-case names allowed). Strong cues say outright that a name follows.
_CUES: list[tuple[str, float, bool]] = [
    (
        r"\bmy\s+name(?:'s|\s+is)|\bname\s+is|\b(?:full|first|last|middle|maiden|given|family|sur)\s*name"
        r"(?:\s+is)?\s*[:?]?|\bname\s*:|\b(?:call|calls|called|named)\s+me|\b(?:named|called)"
        r"|\bname\b[^.?!\n]{0,40}\?[ \t]*(?:\p{L}+[ \t]*:)?|\bchange\s+(?:it|the\s+name|my\s+name)\s+to",
        0.7,
        True,
    ),
    (
        r"\b(?:i\s+am|i'm|i’m|this\s+is|it'?s|dear|hi|hello|hey|thanks|thank\s+you|regards|cheers|sincerely|"
        r"speak\s+(?:to|with)|talk\s+(?:to|with)|follow\s+up\s+with|ask\s+for|mr|mrs|ms|miss|mx|dr|prof|"
        r"attn|c/o|on\s+behalf\s+of|account\s+holder|cardholder|card\s+holder|beneficiary|recipient|"
        r"(?:by|from|to|contact|customer|client|sender|signed)\s*:|(?:billing|shipping|delivery|mailing)\s+address\s*:|"
        r"my\s+(?:son|daughter|kid|child|wife|husband|partner|mother|mom|mum|father|dad|brother|sister|"
        r"friend|colleague|boss|manager|grandfather|grandmother|grandson|granddaughter|nephew|niece|uncle|"
        r"aunt|cousin|fianc[eé]e?)(?:\s+(?:is|named|called))?)",
        0.6,
        False,
    ),
]
_CUE_PATTERNS = [
    (regex.compile(r"(?:" + cue + r")(?!\p{L})[.,!]?[ \t]*", regex.IGNORECASE), score, lower)
    for cue, score, lower in _CUES
]
# A closing then a name on the next line is a signature ("Kind regards,\nRebecca").
_CUE_PATTERNS.append(
    (
        regex.compile(
            r"^[ \t]*(?:thanks|thank\s+you|many\s+thanks|regards|kind\s+regards|best\s+regards|best|cheers|"
            r"sincerely|yours\s+(?:truly|sincerely)|thx|ta|all\s+the\s+best)[ \t]*[.,!]?[ \t]*\n[ \t]*",
            regex.IGNORECASE | regex.MULTILINE,
        ),
        0.6,
        False,
    )
)


def words_after_cues(text: str) -> list[tuple[int, int]]:
    """The spans of the first word after each name cue ("Thanks,\nroger", "Dear Ms Alvarez"): where a name
    is likely even when nothing else says so."""
    spans = []
    for pattern, _score, _lower in _CUE_PATTERNS:
        for cue in pattern.finditer(text):
            word = _TOKEN.match(text, cue.end())
            if word and is_name_word(word.group(1)):
                spans.append(word.span(1))
    return spans


def is_name_word(word: str) -> bool:
    bare = word.rstrip(".").lower()
    return (
        len(bare) >= 2
        and bare not in STOP_WORDS
        and bare not in NOT_NAMES
        and not any(ch.isdigit() for ch in bare)  # tracking and product codes: TBA48016419391
    )


class NameCueRecognizer(LocalRecognizer):
    """One to three name words right after a cue such as "my name is", "Dear", "Hi" or "Mrs.".

    spaCy's small model finds most capitalised names in running text but misses names in lower case
    ("my name is vitoria"), short greetings and names it has never seen. Strong cues accept lower-case
    words; the others need a capital letter unless the whole message has none (then capitals say nothing).
    Stop words, courtesy words and words tagged as function words end the name.
    """

    ENTITIES = ["PERSON"]
    NAME = "NameCueRecognizer"

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=self.ENTITIES,
            supported_language=supported_language,
            name=self.NAME,
        )

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        pos_at = _pos_by_offset(nlp_artifacts)
        caseless = text == text.lower() or text == text.upper()
        results = []
        for pattern, score, lower_ok in _CUE_PATTERNS:
            for cue in pattern.finditer(text):
                span = self._name_after(text, cue.end(), lower_ok or caseless, pos_at, strong=lower_ok)
                if span and caseless and not lower_ok and not _in_gazetteer(text[span[0] : span[1]]):
                    continue  # "IT'S UNUSED": without capitals a weak cue needs a known name after it
                if span:
                    results.append(self._result(span, score, cue.group().strip()))
        return results

    def _name_after(
        self, text: str, pos: int, lower_ok: bool, pos_at: dict[int, str], *, strong: bool = False
    ) -> tuple[int, int] | None:
        start = end = None
        words = 0
        while words < 4:
            match = _TOKEN.match(text, pos)
            if not match:
                break
            word = match.group(1)
            initial = end is not None and _INITIAL.fullmatch(word) is not None and word[0].isupper()
            if not initial and not self._acceptable(word, match.start(1), lower_ok, pos_at, strong):
                break
            start = match.start(1) if start is None else start
            end = match.end(1) - (1 if word.endswith(".") and not initial else 0)
            pos = match.end(1)
            words += 1
            if word.endswith(".") and not initial:
                break
        if start is None or end is None or end - start < 2:
            return None
        # A trailing lone initial ("Vanessa P.") belongs to the name only with a surname after it.
        return start, end

    @staticmethod
    def _acceptable(word: str, offset: int, lower_ok: bool, pos_at: dict[int, str], strong: bool) -> bool:
        if not is_name_word(word) or not (lower_ok or word[0].isupper()):
            return False
        if pos_at.get(offset) in _NEVER_NAME_POS:
            return False
        # A capitalised common verb/adjective after "I'm" ("I'm Glad") is rare; a lower-case one is common.
        # After "my name is", whatever the tagger makes of an unknown lower-case word ("colleen": ADJ).
        return (
            strong
            or word[0].isupper()
            or pos_at.get(offset) in {"PROPN", "NOUN", "X", None}
            or _in_gazetteer(word)
        )

    def _result(self, span: tuple[int, int], score: float, cue: str) -> RecognizerResult:
        explanation = AnalysisExplanation(
            recognizer=self.NAME,
            original_score=score,
            textual_explanation=f"Name after the cue {cue!r}",
        )
        return RecognizerResult(
            entity_type="PERSON",
            start=span[0],
            end=span[1],
            score=score,
            analysis_explanation=explanation,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


def _in_gazetteer(value: str) -> bool:
    from agent.pii.gazetteer import first_names, surnames

    words = [regex.sub(r"['’]s$", "", w.lower()) for w in value.split()]
    return words[0] in first_names() or words[-1].split("-")[0] in surnames()


def _pos_by_offset(nlp_artifacts: NlpArtifacts | None) -> dict[int, str]:
    if nlp_artifacts is None or nlp_artifacts.tokens is None:
        return {}
    # Untagged (the analyzer's first pass has tokens only): no tag, rather than the empty one.
    return {token.idx: token.pos_ for token in nlp_artifacts.tokens if token.pos_}


class InitialedNameRecognizer(PatternRecognizer):
    """ "Ravil G Yefimov", "Sari J. Paavolainen": a given name, an initial and a surname is a name shape
    that little else in a support message has."""

    PATTERNS = [
        Pattern(
            "given name, initial, surname (medium)",
            r"\b\p{Lu}\p{Ll}+[ \t]+\p{Lu}\.?[ \t]+\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?\b",
            0.6,
        ),
    ]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PERSON",
            patterns=self.PATTERNS,
            supported_language=supported_language,
            name="InitialedNameRecognizer",
            global_regex_flags=0,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        words = pattern_text.split()
        return not (is_name_word(words[0]) and is_name_word(words[-1]))
