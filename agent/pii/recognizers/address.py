"""Street addresses: street grammar of the US, UK and continental Europe, grown over the block they sit in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from agent.pii.recognizers.context import NearbyWordsContext

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

_SP = r"[ \t]+"  # addresses are matched within one line; blocks are grown line by line afterwards
_NUM = r"\d{1,5}[A-Za-z]?"
_TITLE_WORD = r"(?:\p{Lu}[\p{L}'’.\-]*|\d{1,3}(?:st|nd|rd|th))"
# Street types as written after the name in the US, UK, Canada, Australia (USPS and Royal Mail usage).
_STREET_TYPES = (
    r"street|st|road|rd|avenue|ave|av|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|square|sq|"
    r"terrace|terr|way|close|crescent|cres|parkway|pkwy|highway|hwy|circle|cir|trail|trl|gardens|grove|"
    r"mews|heights|hts|alley|loop|crossing|ridge|landing|plaza|rise|row|walk|path|pike|expressway|"
    r"freeway|turnpike|causeway|bypass|gateway|harbor|harbour|creek|cliffs?|forges?|squares?|isle|"
    r"estates?|meadows?|orchard|park|hill|hills|green|view|point|fields?|vale|wharf|quay|cove|glen|"
    r"junction|manor|villas?|bridge|brook|corner|crest|hollow|island|knoll|lake|oaks?|pines|springs?|"
    r"station|summit|valley|woods?|ways"
)
# Continental street words that end a compound (Bahnhofstrasse 9, Mellemvej 32, Kiannonkatu 98).
_COMPOUND_ENDINGS = (
    r"strasse|straße|str|gasse|weg|vej|vejen|gade|gaden|gata|gatan|vägen|väg|veien|vei|veg|vegen|katu|"
    r"kuja|tie|polku|laan|straat|steeg|dreef|plein|kade|singel|allee|platz|ring|damm|ufer|markt|utca|"
    r"útja|út|tér|ulica|ulice|cesta|iela|gatve|tee|maantee|põik|torg|torget|stræde|stien|sti|bakken|"
    r"lei|dijk|wal|hof|hoff|plass|plassen|brinken|gränd|backe|vænget|engen|toften"
)
# Street words that come before the name (Via Roma 131, Rue de Tanger, ul. Narewska 94, Avda. Rio 58).
_LEADING_TYPES = (
    r"via|viale|vicolo|piazza|piazzetta|piazzale|corso|largo|strada|rue|avenue|av\.|avda\.|avenida|"
    r"calle|c/|carrer|rambla|ronda|paseo|camino|rua|travessa|praça|praca|alameda|ul\.|al\.|os\.|pl\.|"
    r"trg|boulevard|bd\.?|chemin|quai|allée|impasse|route|ulica|plac|aleja|náměstí|nám\.|piata|strada|"
    r"odos|leoforos|sokak|cadde|caddesi"
)
_UNIT = r"(?i:apt\.?|apartment|suite|ste\.?|unit|flat|fl\.)[ \t]*#?\d{1,5}[A-Za-z]?"
_ADDRESS_WORDS = frozenset(
    {"apt", "apt.", "apartment", "suite", "ste", "unit", "flat", "box", "p.o.", "po", "nan"}
)
_CLOSINGS = frozenset({"thanks", "thank", "regards", "cheers", "best", "sincerely", "kind", "yours"})


class StreetAddressRecognizer(NearbyWordsContext, PatternRecognizer):
    """Street lines in the grammar of many countries, then the unit, city, region and postcode around them.

    A street line is recognised by its grammar (house number, street type, or the continental compound
    and number) rather than by a list of streets; the match then grows over the rest of its line and the
    following lines while they still look like an address (unit, place names, postcode), so a labelled
    multi-line block is one detection and one placeholder.
    """

    PATTERNS = [
        Pattern(
            "number, name and street type (strong)",
            r"\b\d{1,6}[A-Za-z]?(?:" + _SP + r"\d{1,5})?" + _SP + r"(?:" + _TITLE_WORD + _SP + r"){1,4}"
            r"(?i:" + _STREET_TYPES + r")\b\.?",
            0.7,
        ),
        Pattern(
            "compound street name and number (strong)",
            r"\b\p{L}{2,}(?i:" + _COMPOUND_ENDINGS + r")\.?" + _SP + _NUM + r"\b(?![.,]\d)",
            0.65,
        ),
        Pattern(
            "name, street word and number (strong)",
            r"\b\p{Lu}\p{Ll}+" + _SP + r"(?i:strasse|straße|gate|gata|gade|vej|vei|weg|straat|laan|tee|tie|"
            r"út|utca|útja|ulica|cesta|tér|u\.|rkp\.)\.?" + _SP + _NUM + r"\b",
            0.65,
        ),
        Pattern(
            "street word, name and number (strong)",
            r"(?<![\p{L}])(?i:"
            + _LEADING_TYPES
            + r")"
            + _SP
            + r"(?:[\p{L}'’.\-]+"
            + _SP
            + r"){1,4}?"
            + _NUM
            + r"\b",
            0.65,
        ),
        Pattern(
            "number, street word and name (strong)",
            r"\b\d{1,5}(?:" + _SP + r"(?:bis|ter))?,?" + _SP + r"(?i:rue|avenue|av|boulevard|bd|chemin|place|"
            r"allée|impasse|route|quai|via|viale|calle|rua|avenida)\.?(?:" + _SP + r"[\p{L}'’\-]+){1,5}",
            0.65,
        ),
        Pattern(
            "post office box (strong)",
            r"\b(?i:p\.?[ \t]?o\.?[ \t]?box|post[ \t]?box|post office box|postfach|apartado|postboks)"
            r"[ \t]*\d{1,6}\b",
            0.7,
        ),
        Pattern(
            "military mail (strong)", r"\b(?i:PSC|CMR|Unit)[ \t]\d{3,5},?[ \t](?i:Box)[ \t]\d{3,5}\b", 0.8
        ),
        Pattern("military post office (strong)", r"\b(?i:APO|FPO|DPO)[ \t](?i:AA|AE|AP)[ \t]\d{5}\b", 0.8),
        Pattern(
            "street corner (medium)",
            r"(?<=\b(?i:corner of)[ \t]+)(?:[\p{L}\d'’.\-]+[ \t]+){1,5}(?i:and)"
            r"(?:[ \t]+[\p{L}\d'’.\-]+){1,5}",
            0.6,
        ),
        Pattern(
            "number, name and number (weak)",
            r"\b\d{1,6}" + _SP + r"\p{Lu}[\p{L}'’\-]+(?:" + _SP + r"[\p{L}'’\-]+){0,3}" + _SP + _NUM + r"\b"
            r"(?![.,/:]\d)",
            0.3,
        ),
        Pattern("unit (weak)", r"(?<![\p{L}])" + _UNIT + r"\b", 0.2),
    ]
    CONTEXT = [
        "address",
        "live",
        "located",
        "ship",
        "deliver",
        "send",
        "mail",
        "street",
        "drop",
        "meet",
        "move",
        "apartment",
        "residence",
        "billing",
        "shipping",
    ]

    BLOCK_SCORE = 0.6

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="StreetAddressRecognizer",
            global_regex_flags=regex.MULTILINE,
        )

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        grown = [self._grow(text, result) for result in results]
        return _merge_overlapping(grown)

    def _grow(self, text: str, result: RecognizerResult) -> RecognizerResult:
        """Extend a street match over its house number, unit, city and postcode, on its line and below."""
        start, end = result.start, result.end
        before = _LEADING_PARTS.search(text, 0, start)
        if before:
            start = before.start()
        end = _grow_below(text, _grow_on_line(text, end))
        # A street line followed by a unit, a place and a postcode is an address whatever its wording.
        grown_part = text[result.end : end]
        if regex.search(_UNIT, grown_part) or ("\n" in grown_part and _POSTCODE_LIKE.search(grown_part)):
            result.score = max(result.score, self.BLOCK_SCORE)
        result.start, result.end = start, end
        return result


# "Apt. 675 62314 " or "3536 " directly before the street on the same line.
_LEADING_PARTS = regex.compile(
    r"(?:(?:" + _UNIT + r")[ \t]+)?(?:\d{1,6}[ \t]+)+\Z|(?:" + _UNIT + r")[ \t]+\Z"
)
_LINE_TOKEN = regex.compile(
    r"[ \t]*,?[ \t]*(?:"
    + _UNIT
    + r"|\d{2,6}(?:[ \-]\d{2,4})?|[\p{Lu}][\p{L}'’.\-]*|\(\p{L}+\)|nan\b|[A-Z]\d[A-Z][ ]?\d[A-Z]\d"
    # place-name particles: Soto del Barco, Ostrov nad Ohří, Frankfurt am Main
    r"|(?:de|del|la|le|les|van|von|der|den|nad|na|u|do|da|di|dos|das|am|an|im|sur|upon|on|og)"
    r"(?=[ \t]+\p{Lu}))"
)
_QUOTE_PREFIX = regex.compile(r"[ \t]*(?:[>|?*#\-][ \t]*)*")


def _address_tokens(text: str, pos: int, limit: int) -> int:
    """Consume address-looking tokens from `pos` on the same line; return where they stop."""
    end = pos
    for _ in range(limit):
        match = _LINE_TOKEN.match(text, end)
        if not match or "\n" in match.group():
            break
        word = match.group().strip(" \t,").lower().rstrip(".")
        if word in _CLOSINGS or word == "i":
            break
        end = match.end()
    return end


def _grow_on_line(text: str, end: int) -> int:
    return _address_tokens(text, end, limit=8)


def _grow_below(text: str, end: int, max_lines: int = 5) -> int:
    """Take following lines that hold only address parts; stop after a line with a postcode."""
    line_break = text.find("\n", end)
    if text[end : len(text) if line_break == -1 else line_break].strip(" \t,.;"):
        return end  # the street line goes on with prose: the address ended on it
    pos, blank_lines_left = end, 2  # blank lines inside a block are common (before the country)
    for _ in range(max_lines + 1):
        newline = text.find("\n", pos)
        if newline == -1:
            break
        line_end = text.find("\n", newline + 1)
        line_end = len(text) if line_end == -1 else line_end
        body = _QUOTE_PREFIX.match(text, newline + 1, line_end).end()
        line = text[body:line_end]
        if not line.strip():
            if blank_lines_left:
                blank_lines_left -= 1
                pos = line_end
                continue
            break
        if ":" in line or "@" in line or _PHONE_LIKE.search(line):
            break
        stop = _address_tokens(text, body, limit=6)
        if stop == body:
            break
        end = pos = stop
        consumed = text[body:stop]
        if text[stop:line_end].strip(" \t,.;") or (
            _POSTCODE_LIKE.search(consumed) and not regex.match(_UNIT, consumed.strip())
        ):
            break  # trailing prose, or a postcode, closes the block
    return end


_PHONE_LIKE = regex.compile(r"\d[\d \-.()]{6,}\d")
_POSTCODE_LIKE = regex.compile(r"\b\d{3,6}\b|\b[A-Z]\d[A-Z][ ]?\d[A-Z]\d\b")


def _merge_overlapping(results: list[RecognizerResult]) -> list[RecognizerResult]:
    merged: list[RecognizerResult] = []
    for result in sorted(results, key=lambda r: (r.start, -r.end)):
        if merged and result.start < merged[-1].end:
            last = merged[-1]
            last.end = max(last.end, result.end)
            last.score = max(last.score, result.score)
            continue
        merged.append(result)
    return merged
