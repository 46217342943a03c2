"""Spreading a detected name to where the same message repeats or lists it (speakers, lists, signatures)."""

from __future__ import annotations

from collections.abc import Iterable

import regex
from presidio_analyzer import AnalysisExplanation, RecognizerResult

from agent.pii.recognizers.person import NOT_NAMES, is_name_word

PROPAGATED_SCORE = 0.6
_RECOGNIZER = "NamePropagation"

# Field labels that start a line like a speaker does ("Phone: ...") but never name a person.
_FIELD_LABELS = frozenset(
    "name address phone mobile fax desk office email e-mail website date time when where subject re fw "  # noqa: SIM905 - a word list reads better as text
    "fwd to from cc bcc note notes order ticket status total amount price qty sku id zip city country "
    "state company title job question answer q a ps p.s tel cell account card iban ssn dob reply "
    "update summary issue warning error info tip important reminder example step".split()
) | {"personal info", "directed by"}
_NAME_WORD = r"\p{L}[\p{L}'’\-]+"
_SPEAKER = regex.compile(
    r"^[ \t>]*(" + _NAME_WORD + r"(?:[ \t]+" + _NAME_WORD + r")?)[ \t]*:", regex.MULTILINE
)
_ITEM = r"(?<![\p{L}])(?!(?:and|or)\b)" + _NAME_WORD + r"(?:[ \t](?!(?:and|or)\b)" + _NAME_WORD + r")?"
_LIST = regex.compile(
    r"(?:" + _ITEM + r"[ \t]*,[ \t]*){1,10}" + _ITEM + r",?[ \t]+(?:and|or|&)[ \t]+" + _ITEM
)
_LIST_ITEM = regex.compile(_ITEM)
_LINE = regex.compile(r"^[ \t>?*|\-]*([^\n]*?)[ \t]*$", regex.MULTILINE)
_FULL_NAME_LINE = regex.compile(r"\p{Lu}[\p{L}'’\-]+(?:[ \t]+(?:\p{Lu}\.?|\p{Lu}[\p{L}'’\-]+)){1,3}")


def propagate_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Return extra PERSON results implied by the ones found; each rule needs at least one found name."""
    found = list(results)
    for rule in (_contact_card_names, _listed_names, _speaker_names, _repeated_names):
        found.extend(_new_only(rule(text, found), found))
    return found[len(results) :]


def _persons(results: Iterable[RecognizerResult]) -> list[RecognizerResult]:
    return [r for r in results if r.entity_type == "PERSON"]


def _overlaps_any(start: int, end: int, results: Iterable[RecognizerResult]) -> bool:
    return any(r.start < end and start < r.end for r in results)


def _new_only(candidates: list[RecognizerResult], existing: list[RecognizerResult]) -> list[RecognizerResult]:
    fresh: list[RecognizerResult] = []
    for candidate in candidates:
        if not _overlaps_any(candidate.start, candidate.end, existing + fresh):
            fresh.append(candidate)
    return fresh


def _person(start: int, end: int, why: str) -> RecognizerResult:
    return RecognizerResult(
        entity_type="PERSON",
        start=start,
        end=end,
        score=PROPAGATED_SCORE,
        analysis_explanation=AnalysisExplanation(
            recognizer=_RECOGNIZER, original_score=PROPAGATED_SCORE, textual_explanation=why
        ),
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: _RECOGNIZER,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: _RECOGNIZER,
        },
    )


def _contact_card_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """A line holding only a full name, first in a message or just above an address, is its owner."""
    contact_types = {"STREET_ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS"}
    if not any(r.entity_type in contact_types for r in results):
        return []
    addresses = [r for r in results if r.entity_type == "STREET_ADDRESS"]
    caseless = text == text.lower()
    lines = [m for m in _LINE.finditer(text) if m.group(1)]
    candidates = lines[:1]
    for address in addresses:
        above = [m for m in lines if m.end() <= address.start]
        candidates.extend(above[-3:])
    out = []
    for line in candidates:
        body = line.group(1)
        if caseless and len(body.split()) in (2, 3):
            body = body.title()  # capitals say nothing in an all-lower-case message
        if _FULL_NAME_LINE.fullmatch(body) and all(
            is_name_word(w) or len(w.rstrip(".")) == 1 for w in body.split()
        ):
            out.append(_person(line.start(1), line.end(1), "a name alone on a line of a contact block"))
    return out


def _listed_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """In "Ana, Mary, Jodi and Teresa", one known name makes the other items names too."""
    persons = _persons(results)
    out = []
    for listing in _LIST.finditer(text):
        items = list(_LIST_ITEM.finditer(text, listing.start(), listing.end()))
        items = [i for i in items if i.group() not in {"and", "or"}]
        if not any(_overlaps_any(i.start(), i.end(), persons) for i in items):
            continue
        lower_list = all(i.group()[0].islower() for i in items)
        for item in items:
            # The last item may run into the sentence ("... and Jodi are booked"): keep its name words.
            words = item.group().split()
            while words and not (is_name_word(words[-1]) and (lower_list or words[-1][0].isupper())):
                words.pop()
            if words and all(is_name_word(w) and (lower_list or w[0].isupper()) for w in words):
                end = item.start() + len(" ".join(words)) if len(words) > 1 else item.start() + len(words[0])
                out.append(_person(item.start(), end, "an item of a list of names"))
    return out


def _speaker_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Chat transcripts: when one "Someone:" speaker is a known name, the other speakers are names too."""
    speakers = [
        m
        for m in _SPEAKER.finditer(text)
        if m.group(1).lower() not in _FIELD_LABELS and all(is_name_word(w) for w in m.group(1).split())
    ]
    persons = _persons(results)
    known = {m.group(1) for m in speakers if _overlaps_any(m.start(1), m.end(1), persons)}
    mentioned = {text[p.start : p.end] for p in persons}
    if len(speakers) < 2 or not (known or {m.group(1) for m in speakers} & mentioned):
        return []
    return [_person(m.start(1), m.end(1), "a speaker in a transcript with named speakers") for m in speakers]


def _repeated_names(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Every other occurrence of a found name, or of its given name or surname, is the same person."""
    words: set[str] = set()
    for person in _persons(results):
        value = text[person.start : person.end]
        words.add(value)
        words.update(w for w in value.split() if len(w.rstrip(".")) > 1 and is_name_word(w))
    out: list[RecognizerResult] = []
    for word in sorted(words, key=len, reverse=True):
        if word.lower() in NOT_NAMES:
            continue
        # A full name also in another case: "From: Harish Zachariah" and a signature "harish zachariah"
        # are one person; a single word only as written ("Orchestra" is not "orchestra").
        flags = regex.IGNORECASE if " " in word else 0
        pattern = regex.compile(r"(?<![\p{L}\d])" + regex.escape(word) + r"(?![\p{L}\d])", flags)
        out.extend(_person(m.start(), m.end(), "the same name again") for m in pattern.finditer(text))
    return out
