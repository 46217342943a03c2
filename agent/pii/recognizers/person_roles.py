"""Names found by their role in the sentence: who lives, says or orders, who is spoken to or added."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

    Reads spaCy's parse from the NLP artifacts Presidio already computed; costs no extra model call.
    """

    ENTITIES = ["PERSON"]
    NAME = "NameRoleRecognizer"
    SCORE = 0.55

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
        results = []
        for token in nlp_artifacts.tokens:
            if not self._is_candidate(token):
                continue
            why = self._role(token)
            if why:
                start, end = _name_span(token)
                results.append(self._result(start, end, why))
        return results

    @staticmethod
    def _is_candidate(token: Token) -> bool:
        # A capitalised common noun at the start of a sentence is just a sentence ("Customer wants ...").
        tagged_as_name = token.pos_ == "PROPN" or (token.pos_ == "NOUN" and not token.is_sent_start)
        return (
            tagged_as_name
            and token.text[:1].isupper()
            and is_name_word(token.text)
            and token.ent_type_ not in _OTHER_THINGS
        )

    @staticmethod
    def _role(token: Token) -> str | None:
        head = token.head
        if token.dep_ in {"nsubj", "nsubjpass"} and head.lemma_ in HUMAN_VERBS:
            return f"subject of {head.lemma_!r}"
        if (
            token.dep_ == "nsubj"
            and head.lemma_ == "be"
            and any(child.dep_ == "prep" and child.lower_ == "from" for child in head.children)
        ):
            return "said to be from somewhere"
        if token.dep_ in {"dobj", "dative"} and head.lemma_ in HUMAN_VERBS:
            return f"object of {head.lemma_!r}"
        if (
            token.dep_ == "pobj"
            and head.lower_ in _ADDRESSEE_PREPOSITIONS
            and head.head.lemma_ in HUMAN_VERBS
            and head.head.lemma_ not in {"live", "move", "fly", "travel", "grow", "born", "work", "study"}
        ):
            return f"addressed by {head.head.lemma_!r}"
        if token.dep_ == "npadvmod" and token.i == token.sent.start and token.nbor(1).text == ",":
            return "addressed at the start of a sentence"
        return None

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


def _name_span(token: Token) -> tuple[int, int]:
    """The token with the capitalised compound words before it (given names before a surname)."""
    first = token
    while first.i > 0:
        previous = first.nbor(-1)
        if previous.dep_ == "compound" and previous.head.i >= token.i - 3 and previous.text[:1].isupper():
            first = previous
        else:
            break
    return first.idx, token.idx + len(token.text)
