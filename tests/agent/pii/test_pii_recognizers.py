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
]


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
