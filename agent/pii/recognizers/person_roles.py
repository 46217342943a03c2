"""Names found by their role in the sentence: who lives, says or orders, who is spoken to or added."""

from __future__ import annotations

from typing import TYPE_CHECKING

import regex
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult

from agent.pii.recognizers.person import is_name_word

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from spacy.tokens import Token

# Verbs whose subject (or addressee) is a person in support mail; companies "ship" and "charge" instead.
HUMAN_VERBS = frozenset(
    "live reside say shout tell ask write reply answer call phone email text complain spend begin give "  # noqa: SIM905 - a word list reads better as text
    "marry speak talk visit fly travel meet move sign cancel request claim book want need wish hope "
    "feel think know remember forget thank apologize apologise cry laugh smile add name introduce hire "
    "work study grow die born".split()
)
# The one spoken to, added or paid: the object of these verbs through these prepositions.
_ADDRESSEE_PREPOSITIONS = frozenset({"to", "at", "with"})
# spaCy entity labels that mean the word is something else; ORG is not here because the small model
# often calls unfamiliar personal names organisations.
_OTHER_THINGS = frozenset(
    {
        "GPE",
        "LOC",
        "FAC",
        "DATE",
        "TIME",
        "MONEY",
        "CARDINAL",
        "ORDINAL",
        "PERCENT",
        "QUANTITY",
        "NORP",
        "PRODUCT",
        "LANGUAGE",
        "EVENT",
        "LAW",
        "WORK_OF_ART",
    }
)


class NameRoleRecognizer(LocalRecognizer):
    """A proper noun is a name when it is the subject of a verb only people do ("Dana lives at ...",
    "Scott had given ..."), the person a verb addresses ("shouted at Todd", "add Irenke Sörös as ..."),
    or the person a message opens by addressing ("Warrane, can I ...").

    Reads the roles off the word order and spaCy's part-of-speech tags and lemmas (no dependency parse:
    the parser is not loaded, it cost about a sixth of the pipeline's time); costs no extra model call.
    """

    ENTITIES = ["PERSON"]
    NAME = "NameRoleRecognizer"
    SCORE = 0.55
    MAX_NAME_WORDS = 4

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=self.ENTITIES, supported_language=supported_language, name=self.NAME
        )

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None or nlp_artifacts.tokens is None:
            return []
        tokens = list(nlp_artifacts.tokens)
        results = []
        i = 0
        while i < len(tokens):
            if not _is_candidate(tokens, i):
                i += 1
                continue
            end = i + 1  # a run of name words and initials: "Irenke Sörös", "Daniela C Capon"
            while end < len(tokens) and end - i < self.MAX_NAME_WORDS:
                if _is_candidate(tokens, end):
                    end += 1
                elif (
                    _INITIAL.fullmatch(tokens[end].text)
                    and end + 1 < len(tokens)
                    and _is_candidate(tokens, end + 1)
                ):
                    end += 2
                else:
                    break
            why = _role(tokens, i, end)
            if why:
                results.append(self._result(tokens[i].idx, tokens[end - 1].idx + len(tokens[end - 1]), why))
            i = end
        return results

    def _result(self, start: int, end: int, why: str) -> RecognizerResult:
        return RecognizerResult(
            entity_type="PERSON",
            start=start,
            end=end,
            score=self.SCORE,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.NAME, original_score=self.SCORE, textual_explanation=f"Name as the {why}"
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


# Between a subject and its verb: auxiliaries, negations and adverbs ("Scott had never given").
_BETWEEN = frozenset({"AUX", "PART", "ADV"})
_INITIAL = regex.compile(r"\p{Lu}\.?")
# Capitalised words that open a sentence and are followed by a comma without addressing anyone.
_INTERJECTIONS = frozenset(
    "cool great awesome perfect nice wow right well alright fine excellent wonderful brilliant lovely "  # noqa: SIM905
    "oh ah hmm ugh yay oops sorry honestly seriously anyway also unfortunately luckily".split()
)
_NOT_ADDRESSED = frozenset({"live", "move", "fly", "travel", "grow", "born", "work", "study"})


def _starts_sentence(tokens: list[Token], i: int) -> bool:
    if i == 0:
        return True
    previous = tokens[i - 1]
    return previous.text in {".", "!", "?"} or (previous.is_space and "\n" in previous.text)


def _is_candidate(tokens: list[Token], i: int) -> bool:
    # A capitalised common noun at the start of a sentence is just a sentence ("Customer wants ...").
    token = tokens[i]
    tagged_as_name = token.pos_ == "PROPN" or (token.pos_ == "NOUN" and not _starts_sentence(tokens, i))
    return (
        tagged_as_name
        and token.text[:1].isupper()
        and is_name_word(token.text)
        and token.ent_type_ not in _OTHER_THINGS
    )


def _role(tokens: list[Token], start: int, end: int) -> str | None:
    """Why tokens[start:end] name a person, from the words around them; None when nothing says so."""
    after = end
    while after < len(tokens) and tokens[after].pos_ in _BETWEEN:
        after += 1
    if after < len(tokens) and tokens[after].pos_ == "VERB" and tokens[after].lemma_ in HUMAN_VERBS:
        return f"subject of {tokens[after].lemma_!r}"
    if (
        end + 1 < len(tokens)
        and tokens[end].lemma_ == "be"
        and tokens[end + 1].lower_ == "from"
        and not _starts_sentence(tokens, end)
    ):
        return "said to be from somewhere"
    before = start - 1
    if before >= 1 and tokens[before].pos_ == "PRON" and tokens[before].lower_ in {"me", "us"}:
        before -= 1  # "call me Piusz"
    if before >= 0 and tokens[before].pos_ == "VERB" and tokens[before].lemma_ in HUMAN_VERBS:
        return f"object of {tokens[before].lemma_!r}"
    if start > 1 and tokens[start - 1].lower_ in _ADDRESSEE_PREPOSITIONS:
        # "spoke directly to Todd", "said Felix to Linda": the verb a few words back.
        for verb in tokens[max(0, start - 5) : start - 1][::-1]:
            if verb.pos_ == "VERB":
                if verb.lemma_ in HUMAN_VERBS and verb.lemma_ not in _NOT_ADDRESSED:
                    return f"addressed by {verb.lemma_!r}"
                break
            if verb.pos_ not in _BETWEEN and verb.pos_ != "PROPN":
                break
    if (
        _starts_sentence(tokens, start)
        and end < len(tokens)
        and tokens[end].text == ","
        and tokens[start].pos_ == "PROPN"
        and tokens[start].lower_ not in _INTERJECTIONS
    ):
        return "addressed at the start of a sentence"
    return None
