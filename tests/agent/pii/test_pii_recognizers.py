"""Table-driven recognizer tests (Presidio's style): each entity found where it is, and not where it isn't."""

from __future__ import annotations

import pytest

from agent.pii.analyzer import DeskpilotAnalyzer

# (entity type, text, the value that must be covered by one result of that type)
POSITIVE = [
    ("STREET_ADDRESS", "Please ship it to 221B Baker Street, London.", "221B Baker Street"),
    ("STREET_ADDRESS", "My new address is Bahnhofstrasse 12, 8001 Zürich", "Bahnhofstrasse 12"),
    ("STREET_ADDRESS", "Send the replacement to Via Roma 131, Montafia", "Via Roma 131"),
    ("STREET_ADDRESS", "I live at 36 rue de Pologne since May", "36 rue de Pologne"),
    ("STREET_ADDRESS", "Deliver to P.O. Box 4521 please", "P.O. Box 4521"),
    ("STREET_ADDRESS", "PSC 1234, Box 5678\nAPO AE 09001", "PSC 1234, Box 5678"),
    (
        "STREET_ADDRESS",
        "Jane Roe\n742 Evergreen Terrace\nApt. 3\nSpringfield\nUSA 49007",
        "742 Evergreen Terrace\nApt. 3\nSpringfield\nUSA 49007",
    ),
    ("STREET_ADDRESS", "the corner of Main Street and Elm Road", "Main Street and Elm Road"),
    ("STREET_ADDRESS", "Our new place is 4413 Harjukuja 54, Espoo", "4413 Harjukuja 54"),
    ("ZIP_CODE", "ZIP: 94105", "94105"),
    ("ZIP_CODE", "my postcode is SW1A 1AA", "SW1A 1AA"),
    ("ZIP_CODE", "Springfield, IL 62704", "62704"),
    ("ZIP_CODE", "postal code 7412 SL", "7412 SL"),
    ("PHONE_NUMBER", "you can call me on 078 651 4500 after six", "078 651 4500"),
    ("PHONE_NUMBER", "Mobile: +46 (0)8 928 571 38", "+46 (0)8 928 571 38"),
    ("PHONE_NUMBER", "Phone: (37) 788-063", "(37) 788-063"),
    ("PHONE_NUMBER", "They're not answering at 78 651 450", "78 651 450"),
    ("PHONE_NUMBER", "Desk: +1-903-140-4508x769", "+1-903-140-4508x769"),
    ("PERSON", "my name is vitoria santos", "vitoria santos"),
    ("PERSON", "Hi Vinicio, the parcel never came.", "Vinicio"),
    ("PERSON", "Dear Mrs. Okafor, thank you.", "Okafor"),
    ("PERSON", "Name: Iva D. Grusová", "Iva D. Grusová"),
    ("PERSON", "Have you met Ravil G Yefimov before?", "Ravil G Yefimov"),
    ("PERSON", "Dear Ana, Efimiya, Mary and Jodi are on the booking.", "Efimiya"),
    ("PERSON", "Dear Ana, Efimiya, Mary and Jodi are on the booking.", "Jodi"),
    ("PERSON", "What's your last name? Boyle", "Boyle"),
    ("PERSON", "Warrane, can I please speak to your boss?", "Warrane"),
    ("CREDIT_CARD", "card 4111 1111 1111 1111 was declined", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "Please block card no 4415101282806639538", "4415101282806639538"),
    ("CARD_EXPIRY", "it expires 04/27", "04/27"),
    ("CARD_EXPIRY", "valid thru 12/2026", "12/2026"),
    ("CARD_SECURITY_CODE", "the CVV is 123", "123"),
    ("BANK_ACCOUNT", "my account number is 12345678", "12345678"),
    ("BANK_ACCOUNT", "sort code 12-34-56", "12-34-56"),
    ("BANK_ACCOUNT", "IBAN GB00 WEST 1234 5698 7654 32 (typo?)", "GB00 WEST 1234 5698 7654 32"),
    ("IBAN_CODE", "IBAN GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"),
    ("US_DRIVER_LICENSE", "My driver's license number is F162823540116", "F162823540116"),
    ("PASSPORT", "passport no. K12345678", "K12345678"),
    ("DATE_OF_BIRTH", "I was born on 03/14/1985", "03/14/1985"),
    ("DATE_OF_BIRTH", "DOB: 14 March 1985", "14 March 1985"),
    ("EMAIL_ADDRESS", "write to dana.w@example.co.uk", "dana.w@example.co.uk"),
    ("US_SSN", "Here's my SSN: 023-01-0866", "023-01-0866"),
    ("IP_ADDRESS", "blocked from 165.165.185.178", "165.165.185.178"),
    # Issue 14: values that leaked from fresh, generated support messages.
    ("UK_NINO", "my SSN is JG 10 37 28 C", "JG 10 37 28 C"),
    ("UK_NINO", "NI no: zt257425c", "zt257425c"),
    ("CA_SIN", "My SIN is 464262120.", "464262120"),
    ("CA_SIN", "SIN: 558 073 029", "558 073 029"),
    ("AU_TFN", "my TFN 357-416-299", "357-416-299"),
    ("AU_TFN", "Tax File No. is 476216827", "476216827"),
    ("IN_AADHAAR", "Aadhaar number: 2615-9982-5963", "2615-9982-5963"),
    ("IN_PAN", "PAN card: JEPPA1996V", "JEPPA1996V"),
    ("IE_PPS", "my PPS number is 5046631WA", "5046631WA"),
    ("IE_PPS", "PPSN: 4212226EA", "4212226EA"),
    ("US_ITIN", "ITIN: 912-91-3457", "912-91-3457"),
    ("PHONE_NUMBER", "call 589.616.2940x975 after six", "589.616.2940x975"),
    ("PHONE_NUMBER", "Mobile (0161) 4960650 (ext 9113)", "(0161) 4960650 (ext 9113)"),
    ("PHONE_NUMBER", "Regards,\nKayla\n001-842-879-8358x069", "001-842-879-8358x069"),
    ("STREET_ADDRESS", "Please ship it to 76625 Wells Light instead.", "76625 Wells Light"),
    ("STREET_ADDRESS", "I live at 18622 Gibson Neck.", "18622 Gibson Neck"),
    ("STREET_ADDRESS", "Deliver to 667 Sanders Dam please", "667 Sanders Dam"),
    ("STREET_ADDRESS", "send it to 1078 Bradley Camp", "1078 Bradley Camp"),
    ("STREET_ADDRESS", "My address is 89609 Walton Port.", "89609 Walton Port"),
    ("STREET_ADDRESS", "Address:\nStudio 9\nFranklin Ways\nPort Kelly\nBA6 2NE", "Studio 9\nFranklin Ways"),
    ("STREET_ADDRESS", "New address: Flat 52\nWood Forges", "Flat 52\nWood Forges"),
    ("STREET_ADDRESS", "deliver to 5/71 Larry Heights, Sydney", "5/71 Larry Heights"),
    ("STREET_ADDRESS", "please send it to 435 erika run, north carolinemouth", "435 erika run"),
    ("EMAIL_ADDRESS", "mail zelda.quartermain@probe-mail.example", "zelda.quartermain@probe-mail.example"),
    ("EMAIL_ADDRESS", "YOU CAN EMAIL ME AT RAKSHA@PAL-MENON.NET.", "RAKSHA@PAL-MENON.NET"),
    ("PERSON", "Hello, Clare Townsend again - still waiting", "Clare Townsend"),
    ("PERSON", "hi, my name is colleen fernandez", "colleen fernandez"),
    ("PERSON", "the parcel was for irene pugh-short, my aunt", "irene pugh-short"),
    ("PERSON", "Kind regards,\nRebecca", "Rebecca"),
    ("PERSON", "Chat transcript\nAgent: Hi!\nMichelle: my order is late", "Michelle"),
    ("PERSON", "Chat transcript\nAgent: Hi!\nFalak: my order is late", "Falak"),
    ("ZIP_CODE", "my postcdoe is n9c 7y6.", "n9c 7y6"),
    ("IN_AADHAAR", "adahar no: 4858 8705 8087", "4858 8705 8087"),
    ("PHONE_NUMBER", "Best,\nJoanne\n(02)36439971 (ext 76240)", "(02)36439971 (ext 76240)"),
    (
        "STREET_ADDRESS",
        "Address: Level 8 108 Mcmahon Access\nIP: 20.131.19.200",
        "Level 8 108 Mcmahon Access",
    ),
    ("CREDIT_CARD", "I paid with card 675918615989 twice", "675918615989"),
    ("STREET_ADDRESS", "address: 14 harrington street my address is", "14 harrington street"),
    (
        "STREET_ADDRESS",
        "Shipping address:\n961 Jones Mills\nEast Williamburgh, 90999 Please refund to my card.",
        "961 Jones Mills\nEast Williamburgh, 90999",
    ),
]

# (entity type that must not appear, text)
NEGATIVE = [
    ("STREET_ADDRESS", "I ordered 2 tents last week and 3 sleeping bags."),
    ("STREET_ADDRESS", "He ranked it at #15 in the list."),
    ("STREET_ADDRESS", "Room 5 was cold."),
    ("ZIP_CODE", "I paid with 12345 points"),
    ("ZIP_CODE", "the order total was 45000 yen"),
    ("PHONE_NUMBER", "Your order ORD-123456 shipped"),
    ("PHONE_NUMBER", "It cost $1,299.00 in the end"),
    ("PHONE_NUMBER", "delivered on 2024-03-01"),
    ("PHONE_NUMBER", "card 4111 1111 1111 1111 was declined"),
    ("PERSON", "I'm glad it arrived"),
    ("PERSON", "Hi team, my order is late"),
    ("PERSON", "This is urgent, please help."),
    ("PERSON", "Dear Sir or Madam, the tent leaks."),
    ("PERSON", "CAN I SPEAK TO A REAL PERSON?"),
    ("CARD_EXPIRY", "I ordered it on 04/27 and it broke"),
    ("CARD_SECURITY_CODE", "I bought 123 pegs"),
    ("BANK_ACCOUNT", "I have 123456 reward points"),
    ("US_DRIVER_LICENSE", "model X1234567 tent"),
    ("DATE_OF_BIRTH", "My order from 03/14/2024 hasn't arrived"),
    ("CREDIT_CARD", "tracking 1234 5678 9012 3457 is stuck"),  # fails the Luhn check
    ("CREDIT_CARD", "tracking 1234 5678 9012 3456 is stuck"),  # no Luhn-valid card inside a longer number
    ("CA_SIN", "SIN: 558 073 028"),  # fails the Luhn check
    ("AU_TFN", "my TFN 357-416-298"),  # fails the weighted mod-11 check
    ("AU_TFN", "order total 476216827 points"),  # a valid checksum alone is one number in eleven
    ("IN_AADHAAR", "invoice 2615 9982 5963 attached"),  # valid Verhoeff digit, no Aadhaar word
    ("IE_PPS", "PPS number 5046631XA"),  # wrong check letter
    ("STREET_ADDRESS", "I ordered 2 Summit Light tents last week."),
    ("STREET_ADDRESS", "I ordered 3 Aspen Creek sleeping bags on 8 Nov."),
    ("PERSON", "Your Victoria Falls water filter page says 20% off."),
    ("PERSON", "Tracking number TBA48016419391 hasn't moved."),
    ("PERSON", "I'D LIKE TO RETURN IT, IT'S UNUSED AND IN THE ORIGINAL BOX."),
    ("PHONE_NUMBER", "order ord-388292 was £164"),
    ("PERSON", "please cancel ord-581374; i found the pack cheaper"),
    ("STREET_ADDRESS", "can i swap the summit light 2 tent for the aspen creek sleeping bag?"),
    ("STREET_ADDRESS", "THE SUMMIT LIGHT 2 TENT WAS NOT. THE SUMMIT LIGHT 2 TENT WEIGHS 1.8 KG."),
    ("CREDIT_CARD", "Tracking number 610032366854 hasn't moved since 1 Oct."),  # Luhn-valid, no card word
    ("PHONE_NUMBER", "Tracking number 499856635441 hasn't moved."),  # "+49 ..." to libphonenumber
]


def test_staff_names_on_the_allow_list_stay(pii_analyzer: DeskpilotAnalyzer) -> None:
    text = "JONATHAN GALLAGHER from your team was great. Thanks Jonathan! I'm Jonathan Smith."

    def found(allow_list: list[str]) -> list[str]:
        return [text[r.start : r.end] for r in pii_analyzer.analyze(text, "en", allow_list=allow_list)]

    assert "JONATHAN GALLAGHER" in found([])
    only_full = found(["Jonathan Gallagher"])
    assert "JONATHAN GALLAGHER" not in only_full
    assert "Jonathan Smith" in only_full  # a customer sharing a staff member's first name is still redacted
    assert "Jonathan" in only_full  # a first name alone is a whole match only when the tenant lists it
    with_first = found(["Jonathan Gallagher", "Jonathan"])
    assert "Jonathan" not in with_first and "Jonathan Smith" in with_first


def test_staff_names_are_spared_only_whole(pii_analyzer: DeskpilotAnalyzer) -> None:
    staff = ["Anna Lee", "Tom Smith"]
    text = "Anna Lee's colleague Tom Smith was kind. I'm Anna Smith, and my husband is Tom Lee."
    found = [text[r.start : r.end] for r in pii_analyzer.analyze(text, "en", allow_list=staff)]
    assert "Anna Smith" in found and "Tom Lee" in found  # words of two staff names are no staff name
    assert not any(value in {"Anna Lee", "Anna Lee's", "Tom Smith", "Anna", "Lee"} for value in found)


def _types_covering(analyzer: DeskpilotAnalyzer, text: str, value: str) -> set[str]:
    start = text.index(value)
    end = start + len(value)
    return {r.entity_type for r in analyzer.analyze(text, "en") if r.start <= start and end <= r.end}


@pytest.mark.parametrize(("entity", "text", "value"), POSITIVE, ids=[f"{e}:{v}" for e, _, v in POSITIVE])
def test_finds_entity(pii_analyzer: DeskpilotAnalyzer, entity: str, text: str, value: str) -> None:
    assert entity in _types_covering(pii_analyzer, text, value)


@pytest.mark.parametrize(("entity", "text"), NEGATIVE, ids=[f"{e}:{t[:30]}" for e, t in NEGATIVE])
def test_ignores_lookalike(pii_analyzer: DeskpilotAnalyzer, entity: str, text: str) -> None:
    found = [(r.entity_type, text[r.start : r.end]) for r in pii_analyzer.analyze(text, "en")]
    assert entity not in {kind for kind, _ in found}, found


def test_results_never_overlap(pii_analyzer: DeskpilotAnalyzer) -> None:
    text = (
        "Billing address: Sara Schwarz\n 28245 Puruntie 82 Apt. 595\n LAPPEENRANTA\n 53650\nPhone: 72 128 827"
    )
    results = sorted(pii_analyzer.analyze(text, "en"), key=lambda r: r.start)
    assert results
    assert all(a.end <= b.start for a, b in zip(results, results[1:], strict=False))


# --- the pipeline runs without the dependency parser (issue 14: redaction latency) ----------------------


def test_the_parser_is_not_loaded(pii_analyzer: DeskpilotAnalyzer) -> None:
    pipes = pii_analyzer.nlp_engine.nlp["en"].pipe_names  # type: ignore[attr-defined]
    assert "parser" not in pipes and {"ner", "tagger", "lemmatizer"} <= set(pipes)


ROLE_NAMES = [
    ("Daniela C Capon lives at 92597 Jahu 80, Liiva", "Daniela C Capon"),
    ("Weronika Martinsen will be talking in the conference", "Weronika Martinsen"),
    ("I want to add Miki C Kristiansen as a beneficiary to my account", "Miki C Kristiansen"),
    ("Sometimes people call me Piusz", "Piusz"),
    ("I'm so jealous! said Felix to Linda", "Linda"),
    ("Warrane, can I please speak to your boss?", "Warrane"),
]


@pytest.mark.parametrize(("text", "name"), ROLE_NAMES, ids=[n for _, n in ROLE_NAMES])
def test_names_by_their_role_without_a_parse(pii_analyzer: DeskpilotAnalyzer, text: str, name: str) -> None:
    from agent.pii.recognizers.person_roles import NameRoleRecognizer

    artifacts = pii_analyzer.nlp_engine.process_text(text, "en")
    found = [text[r.start : r.end] for r in NameRoleRecognizer().analyze(text, ["PERSON"], artifacts)]
    assert name in found


@pytest.mark.parametrize(
    "text",
    [
        "Cool, what's the address? Oh do they serve vegan food?",
        "Great, thanks. The Summit Light 2 tent arrived.",
        "Your Lake Tahoe kayak paddle page says 20% off until October 5.",
    ],
)
def test_no_role_names_in_ordinary_sentences(pii_analyzer: DeskpilotAnalyzer, text: str) -> None:
    assert not [r for r in pii_analyzer.analyze(text, "en") if r.entity_type == "PERSON"], text


def test_dialable_phones_skip_our_ids_and_find_canadian_numbers() -> None:
    from agent.pii.recognizers.phone import DialablePhoneRecognizer

    recognizer = DialablePhoneRecognizer()
    assert "CA" not in recognizer.supported_regions and "US" in recognizer.supported_regions
    text = "Order ORD-416555 (ref TCK-4165550199): call me on (416) 555-0199 or +1 604 555 0142."
    found = [text[r.start : r.end] for r in recognizer.analyze(text, ["PHONE_NUMBER"])]
    assert found == ["(416) 555-0199", "+1 604 555 0142"]


# --- spaCy's model runs only for words the rules cannot place (issue 14: redaction latency) ----------


@pytest.fixture
def model_calls(pii_analyzer: DeskpilotAnalyzer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the analyzer sent through its model pass, in order."""
    assert pii_analyzer.model_pass is not None
    calls: list[str] = []
    original = pii_analyzer.model_pass.analyze

    def spy(text: str, *args: object, **kwargs: object) -> object:
        calls.append(text)
        return original(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pii_analyzer.model_pass, "analyze", spy)
    return calls


@pytest.mark.parametrize(
    "text",
    [
        "Hi, I'm Dana Whitfield. Order ORD-104233 arrived damaged; email dana.w@example.com. Thanks!",
        "Great, thanks. The Summit Light 2 tent arrived. Refund NB-TENT-2P to card 4111 1111 1111 1111.",
        "please cancel ORD-552100, it was a gift that never came",
    ],
)
def test_messages_the_rules_explain_skip_the_model(
    pii_analyzer: DeskpilotAnalyzer, model_calls: list[str], text: str
) -> None:
    pii_analyzer.analyze(text, "en")
    assert model_calls == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("The parcel was left with Kwabena Osei-Tutu next door.", "Kwabena Osei-Tutu"),
        ("I spoke to timothy arnold on the phone yesterday.", "timothy arnold"),
        # WordNet knows "catherine" as a noun only: a proper noun, so the model decides.
        ("Catherine is a very sympathetic person. They are also good listeners.", "Catherine"),
        ("Thanks for checking.\nKind regards,\nroger potter", "roger potter"),
    ],
)
def test_words_the_rules_cannot_place_go_through_the_model(
    pii_analyzer: DeskpilotAnalyzer, model_calls: list[str], text: str, name: str
) -> None:
    found = [text[r.start : r.end] for r in pii_analyzer.analyze(text, "en") if r.entity_type == "PERSON"]
    assert model_calls == [text]
    assert any(name in value for value in found), found


def test_a_place_spacy_finds_still_marks_the_postcode_after_it(pii_analyzer: DeskpilotAnalyzer) -> None:
    text = "Please ship it to Berlin, 10435 by Friday."
    found = {(r.entity_type, text[r.start : r.end]) for r in pii_analyzer.analyze(text, "en")}
    assert ("ZIP_CODE", "10435") in found


def test_the_model_runs_once_on_the_same_doc(pii_analyzer: DeskpilotAnalyzer) -> None:
    engine = pii_analyzer.nlp_engine
    artifacts = engine.tokenize("Zbignieva wrote to us.", "en")  # type: ignore[attr-defined]
    assert not artifacts.tokens.ents and not artifacts.tokens[0].pos_
    complete = engine.complete(artifacts, "en")  # type: ignore[attr-defined]
    assert complete.tokens is artifacts.tokens and complete.tokens[0].pos_
    again = engine.complete(complete, "en")  # type: ignore[attr-defined]
    assert [e.text for e in again.entities] == [e.text for e in complete.entities]
    assert complete.lemmas == ["zbignieva", "wrote", "to", "us", "."]


def test_phones_beside_cards_and_ibans_are_still_found() -> None:
    from agent.pii.recognizers.phone import DialablePhoneRecognizer

    text = "Card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, call 020 7946 0958 or +1 415 555 2671"
    found = {text[r.start : r.end] for r in DialablePhoneRecognizer().analyze(text, ["PHONE_NUMBER"])}
    assert "020 7946 0958" in found and "+1 415 555 2671" in found
    assert not any(value in "4111 1111 1111 1111 GB82 WEST 1234 5698 7654 32" for value in found)


def test_a_phone_shaped_like_a_card_that_passes_luhn_is_still_a_phone() -> None:
    """Only what the card recognizer redacts alone is hidden from libphonenumber: this number passes Luhn
    but starts with 0, so no card pattern takes it."""
    from agent.pii.recognizers.phone import DialablePhoneRecognizer, luhn_ok

    text = "ring me on 0044 1214 9601 02 after six"
    assert luhn_ok("0044 1214 9601 02")
    found = {text[r.start : r.end] for r in DialablePhoneRecognizer().analyze(text, ["PHONE_NUMBER"])}
    assert "0044 1214 9601 02" in found
