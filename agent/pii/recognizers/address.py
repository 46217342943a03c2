"""Street addresses: street grammar of the US, UK and continental Europe, grown over the block they sit in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from agent.pii.recognizers.context import NearbyWordsContext

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

_SP = r"[ \t]+"  # addresses are matched within one line; blocks are grown line by line afterwards
_NUM = r"\d{1,5}[A-Za-z]?"
_TITLE_WORD = r"(?:\p{Lu}[\p{L}'’.\-]*|\d{1,3}(?:st|nd|rd|th))"
# Street types written after the name. USPS Publication 28, appendix C1 (every primary suffix name and its
# standard abbreviation), the Australian road types of AS 4590 (Australia Post) and Royal Mail usage.
_USPS_SUFFIXES = (  # noqa: SIM905 - a word table reads better as text
    "alley aly allee annex anx arcade arc avenue ave av bayou byu beach bch bend bnd bluff blf bluffs blfs "
    "bottom btm boulevard blvd branch br bridge brg brook brk brooks brks burg bg burgs bgs bypass byp camp "
    "cp canyon cyn cape cpe causeway cswy center ctr centers ctrs circle cir circles cirs cliff clf cliffs "
    "clfs club clb common cmn commons cmns corner cor corners cors course crse court ct courts cts cove cv "
    "coves cvs creek crk crescent cres crest crst crossing xing crossroad xrd crossroads xrds curve curv "
    "dale "
    "dl dam dm divide dv drive dr drives drs estate est estates ests expressway expy extension ext "
    "extensions exts fall falls fls ferry fry field fld fields flds flat flt flats flts ford frd fords frds "
    "forest frst forge frg forges frgs fork frk forks frks fort ft freeway fwy garden gdn gardens gdns "
    "gateway gtwy glen gln glens glns green grn greens grns grove grv groves grvs harbor hbr harbors hbrs "
    "haven hvn heights hts highway hwy hill hl hills hls hollow holw inlet inlt island is islands iss isle "
    "junction jct junctions jcts key ky keys kys knoll knl knolls knls lake lk lakes lks land landing lndg "
    "lane ln light lgt lights lgts loaf lf lock lck locks lcks lodge ldg loop mall manor mnr manors mnrs "
    "meadow mdw meadows mdws mews mill ml mills mls mission msn motorway mtwy mount mt mountain mtn "
    "mountains mtns neck nck orchard orch oval overpass opas park parks parkway pkwy parkways pass passage "
    "psge path pike pine pne pines pnes place pl plain pln plains plns plaza plz point pt points pts "
    "port prt "
    "ports prts prairie pr radial radl ramp ranch rnch rapid rpd rapids rpds rest rst ridge rdg ridges rdgs "
    "river riv road rd roads rds route rte row rue run shoal shl shoals shls shore shr shores shrs skyway "
    "skwy spring spg springs spgs spur spurs square sq squares sqs station sta stravenue stra stream strm "
    "street st streets sts summit smt terrace ter terr throughway trwy trace trce track trak trafficway "
    "trfy trail trl trailer trlr tunnel tunl turnpike tpke underpass upas union un unions uns valley vly "
    "valleys vlys via viaduct vdct view vw views vws village vlg villages vlgs ville vl vista vis walk "
    "walks wall way ways well wl wells wls"
).split()
_AU_ROAD_TYPES = (  # noqa: SIM905 - a word table reads better as text
    "access alleyway amble anchorage approach artery basin block brace brae break broadway brow byway "
    "centre centreway chase circlet circuit circus close colonnade concourse copse corso courtyard cross "
    "crossway cruiseway cul-de-sac cutting dell deviation dip distributor driveway edge elbow end entrance "
    "esplanade fairway firetrail follow footway foreshore formation front frontage gap gate gates glade "
    "grange ground gully highroad interchange intersection laneway lees line link little lookout lower "
    "meander mew nook outlook parade parklands part pathway piazza plateau pocket promenade quad quadrangle "
    "quadrant quay quays ramble range reach reserve retreat ride ridgeway ring rise riverway riviera "
    "roadside roadway ronde rosebowl rotary round siding slope sound stairs steps strand strip subway tarn "
    "thoroughfare tollway top tor towers triangle trunkway turn upper vale villas wade walkway wynd"
).split()
# USPS abbreviations that are everyday words or too short to tell ("14 Harrington Street my address IS ...").
_AMBIGUOUS_ABBREVIATIONS = frozenset("is iss un uns pr dl dm dv cp lf ml mls vl wl wls".split())  # noqa: SIM905
_UK_STREET_TYPES = "mews wharf yard hill gardens grove drove wynd gate fold croft oaks woods wood str".split()  # noqa: SIM905
# Street types that are also everyday nouns ("2 Summit Light tents"): trusted only when the line ends or
# goes on with a function word, not with another noun.
_CORE_TYPES = frozenset(
    "street st road rd avenue ave av boulevard blvd lane ln drive dr court ct place pl terrace ter terr "  # noqa: SIM905
    "crescent cres close way highway hwy parkway pkwy square sq".split()
)
_TWO_WORD_TYPES = r"fire[ \t]track|right[ \t]of[ \t]way|service[ \t]way|state[ \t]highway"
_STREET_TYPES = (
    _TWO_WORD_TYPES
    + "|"
    + "|".join(
        regex.escape(t)
        for t in sorted(
            set(_USPS_SUFFIXES + _AU_ROAD_TYPES + _UK_STREET_TYPES) - _AMBIGUOUS_ABBREVIATIONS,
            key=len,
            reverse=True,
        )
    )
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
            r"\b(?:\d{1,5}/)?\d{1,6}[A-Za-z]?(?:"
            + _SP
            + r"\d{1,5})?"
            + _SP
            + r"(?:"
            + _TITLE_WORD
            + _SP
            + r"){1,4}"
            r"(?i:" + _STREET_TYPES + r")\b\.?",
            0.7,
        ),
        Pattern(
            # Royal Mail's flat or studio line above a street with no house number ("Flat 52\nWood Forges").
            "unit line, then name and street type (strong)",
            r"(?<![\p{L}])(?i:flat|studio|apartment|apt\.?|unit|suite|room)[ \t]+\d{1,5}[A-Za-z]?"
            r"[ \t]*,?[ \t]*\n?[ \t]*"
            r"(?:" + _TITLE_WORD + _SP + r"){1,3}(?i:" + _STREET_TYPES + r")\b\.?",
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
        # Street grammar leans on capitals; in an all-lower-case message, read a capitalised copy instead.
        source = _capitalised(text) if text == text.lower() else text
        results = super().analyze(source, entities, nlp_artifacts, regex_flags)
        results = [r for r in results if not _looks_like_goods(source, r, text) and not _prose(source, r)]
        if source is not text or text == text.upper():
            # Without capitals, only street-type lines count, and never across a sentence end.
            results = [
                r
                for r in results
                if r.analysis_explanation is not None
                and r.analysis_explanation.pattern_name not in _CAPITALS_ONLY
                and ". " not in source[r.start : r.end]
                and (
                    r.analysis_explanation.pattern_name == _CORNER
                    or not _function_words_inside(source[r.start : r.end])
                )
            ]
        grown = [self._grow(source, result) for result in results]
        return _merge_overlapping(grown)

    def _grow(self, text: str, result: RecognizerResult) -> RecognizerResult:
        """Extend a street match over its house number, unit, city and postcode, on its line and below."""
        start, end = result.start, result.end
        before = _LEADING_PARTS.search(text, 0, start)
        if before:
            start = before.start()
        end = _grow_below(text, _grow_on_line(text, end))
        if text[end - 1] == "." and _SENTENCE_END.search(text, 0, end):
            end -= 1  # the full stop of the sentence, not an abbreviation
        # A street line followed by a unit, a place and a postcode is an address whatever its wording.
        grown_part = text[result.end : end]
        if regex.search(_UNIT, grown_part) or ("\n" in grown_part and _POSTCODE_LIKE.search(grown_part)):
            result.score = max(result.score, self.BLOCK_SCORE)
        result.start, result.end = start, end
        return result


_LOWER_CODE = regex.compile(
    r"\b(?:[a-z]{1,2}\d[a-z\d]?[ ]?\d[a-z]{2}|[a-z]\d[a-z][ ]?\d[a-z]\d|[a-z]\d[\dw][ ]?[a-z\d]{4})\b"
)


def _capitalised(text: str) -> str:
    """Capital initials, and postcodes in capitals; same length, so offsets carry over."""
    text = _LOWER_CODE.sub(lambda m: m.group().upper(), text)
    return regex.sub(
        r"(?<![\p{L}'’\d])\p{Ll}",
        lambda m: m.group().upper() if len(m.group().upper()) == 1 else m.group(),
        text,
    )


_QUANTITY_BEFORE = regex.compile(
    r"(?i:\b(?:ordered|bought|buy|got|received|purchased|returned|return|need|want|x|qty|"
    r"\d+\s*x)[ \t]+)\Z"
)
_NEXT_WORD = regex.compile(r"[ \t]+(\p{L}+)")
_MONTHS = regex.compile(
    r"(?:jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sep|sept|september|"
    r"oct|october|nov|november|dec|december)(?:\.[ \t]|[ \t]+(?:\d|the\b))",
    regex.IGNORECASE,
)


_ADVERBS = frozenset(
    "instead please pls thanks thx asap today tomorrow yesterday now soon already again yet anymore ok "  # noqa: SIM905
    "since till until sorry".split()
)
_WEAK_NUMBERED = "number, name and number (weak)"
_CORNER = "street corner (medium)"
_CAPITALS_ONLY = frozenset(
    {"number, name and number (weak)", "unit (weak)", "name, street word and number (strong)"}
)


_FUNCTION_WORDS = frozenset("the a an for and or to of in on at with from but is was it my your".split())  # noqa: SIM905


def _function_words_inside(value: str) -> bool:
    """ "2 tent for the summit light": a street name ("10 The Green") holds no "for" or "and"."""
    words = [w.lower() for w in value.split()[1:-1]]
    return any(w in _FUNCTION_WORDS for w in (words[1:] if words[:1] == ["the"] else words))


def _prose(text: str, result: RecognizerResult) -> bool:
    """ "90999 Please refund to 6011": the weak number-name-number shape over a sentence, not a street."""
    if result.analysis_explanation is None or result.analysis_explanation.pattern_name != _WEAK_NUMBERED:
        return False
    return any(word.lower() in STOP_WORDS for word in text[result.start : result.end].split()[1:-1])


def _looks_like_goods(text: str, result: RecognizerResult, original: str | None = None) -> bool:
    """ "I ordered 3 Aspen Creek sleeping bags", "8 Nov. The Aspen Creek": a quantity or a date."""
    value = text[result.start : result.end]
    number = regex.match(r"[\d/]+[A-Za-z]?[ \t]+", value)
    if not number:
        return False
    if _MONTHS.match(value, number.end()):
        return True
    quantity = regex.fullmatch(r"[1-9]\d?", number.group().strip()) is not None  # never "018", rarely 100+
    if _QUANTITY_BEFORE.search(text, 0, result.start) and quantity:
        return True
    if not quantity:
        return False
    last_word = value.rstrip(". ").split()[-1].lower()
    if last_word in _CORE_TYPES:
        return False
    if text[result.end - 1] in ".,;:":
        return False  # the line ended with the street type
    # The next word as written: a capitalised copy of a lower-case message says nothing about nouns.
    following = _NEXT_WORD.match(original if original is not None else text, result.end)
    # An address line ends, or goes on with a connector ("since May", "in Leeds"); goods go on with a noun.
    return (
        bool(following)
        and following.group(1)[0].islower()
        and following.group(1).lower() not in STOP_WORDS | _ADVERBS
    )


# "Apt. 675 62314 " or "3536 " directly before the street on the same line.
_LEADING_PARTS = regex.compile(
    r"(?:(?:" + _UNIT + r"|(?i:level|lvl|floor|shop|h\.?no\.?)[ \t]*\d{1,3})[ \t,]+)?(?:\d{1,6}[ \t]+)+\Z"
    r"|(?:" + _UNIT + r"|(?i:level|lvl|floor|shop)[ \t]*\d{1,3})[ \t,]+\Z"
    # the unit word alone, when the street pattern took its number as a house number ("Level 8 108 ...")
    r"|(?<![\p{L}])(?i:level|lvl|floor|shop|flat|studio|unit|suite|ste\.?|apt\.?|apartment)[ \t]+\Z"
)
_PARTICLES = frozenset(
    "de del la le les van von der den nad na u do da di dos das am an im sur upon on og".split()  # noqa: SIM905
)
_LINE_TOKEN = regex.compile(
    r"[ \t]*,?[ \t]*(?:"
    + _UNIT
    # UK postcode, Eircode, Canadian postcode
    + r"|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}\b|[A-Z]\d[\dW][ ]?[A-Z\d]{4}\b|[A-Z]\d[A-Z][ ]?\d[A-Z]\d\b"
    + r"|\d{2,6}(?:[ \-]\d{2,4})?|[\p{Lu}][\p{L}'’.\-]*|\(\p{L}+\)|nan\b"
    # place-name particles: Soto del Barco, Ostrov nad Ohří, Frankfurt am Main
    r"|(?:de|del|la|le|les|van|von|der|den|nad|na|u|do|da|di|dos|das|am|an|im|sur|upon|on|og)"
    r"(?=[ \t]+\p{Lu}))"
)
_QUOTE_PREFIX = regex.compile(r"[ \t]*(?:[>|?*#\-][ \t]*)*")


_SENTENCE_END = regex.compile(r"\p{L}{4}\.\Z")
_FIELD_LABEL = regex.compile(r"[ \t]*[\p{L}][\p{L} .#]{0,24}:")  # "IP: ...", "Date of birth: ..."
_UNIT_WORD = regex.compile(r"(?i:apt|ste|fl|no|st|rd|ave|blvd|dr|ln|ct|pl|sq|hwy)\.")


def _address_tokens(text: str, pos: int, limit: int) -> int:
    """Consume address-looking tokens from `pos` on the same line; return where they stop."""
    end = pos
    shouting = text.isupper()
    for _ in range(limit):
        match = _LINE_TOKEN.match(text, end)
        if not match or "\n" in match.group():
            break
        word = match.group().strip(" \t,").lower().rstrip(".")
        token = match.group().strip(" \t,")
        state_code = len(token) == 2 and token.isupper() and not shouting  # "Aalborg NO 9100", "Salem OR"
        if (
            word in _CLOSINGS
            or word == "i"
            or (word in STOP_WORDS and word not in _PARTICLES and not state_code)
        ):
            break  # "742 Evergreen Terrace. The parcel ...", "14 harrington street my address is ..."
        end = match.end()
        if end - pos > len(match.group()) and _POSTCODE_LIKE.fullmatch(token):
            break  # the postcode closes the line ("KY 48328 Please text me")
        if token.endswith(".") and len(token) > 3 and not _UNIT_WORD.fullmatch(token):
            break  # a sentence ends here ("Springfield. Where is ...")
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
        if _PHONE_LIKE.fullmatch(line.strip()) or _FIELD_LABEL.match(line):
            break
        stop = _address_tokens(text, body, limit=6)
        consumed = text[body:stop]
        if stop == body or ":" in consumed or "@" in consumed or _PHONE_LIKE.search(consumed):
            break
        end = pos = stop
        consumed = text[body:stop]
        if text[stop:line_end].strip(" \t,.;") or (
            _POSTCODE_LIKE.search(consumed) and not regex.match(_UNIT, consumed.strip())
        ):
            break  # trailing prose, or a postcode, closes the block
    return end


_PHONE_LIKE = regex.compile(r"\d[\d \-.()]{6,}\d")
_POSTCODE_LIKE = regex.compile(
    r"\b\d{3,6}\b|\b[A-Z]\d[A-Z][ ]?\d[A-Z]\d\b"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}\b|\b[A-Z]\d[\dW][ ]?[A-Z\d]{4}\b"
)


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
