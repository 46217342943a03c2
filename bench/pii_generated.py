"""PII recall on freshly generated support messages (Faker, six English locales); over-redaction too.

Every run draws a new seed (printed, so a failure can be replayed with `--seed`). Templates are split into a
tuning part and a held-out part (`held_out`), and so are the names (`agent.pii.gazetteer.is_held_out`): the
recognizers were tuned on the tuning part only, and the report gives both, so a figure that only memorises
shows up as a gap.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from faker import Faker
from presidio_analyzer import RecognizerResult

from bench.pii_eval import Analyzer, Span

LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE", "en_IN")
NATIONAL_ID_TYPES = ("US_SSN", "US_ITIN", "UK_NINO", "CA_SIN", "AU_TFN", "IN_AADHAAR", "IN_PAN", "IE_PPS")
STRUCTURED_TYPES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    *NATIONAL_ID_TYPES,
)
OTHER_TYPES = ("PERSON", "STREET_ADDRESS", "ZIP_CODE", "DATE_OF_BIRTH")

# ------------------------------------------------------------------------------------------------------------
# Values. Each national identifier is built with its checksum (Faker's Aadhaar and PPS numbers have none, and
# its en_GB "NINO" uses the never-issued ZZ prefix), so a checksum-validating recognizer is tested fairly.


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits + "0")):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
_VERHOEFF_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_check_digit(digits: str) -> str:
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[(i + 1) % 8][int(ch)]]
    return str(_VERHOEFF_INV[c])


def _nino(rng: random.Random) -> str:
    first, second = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
    while True:
        prefix = rng.choice(first) + rng.choice(second)
        if prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            break
    digits = f"{rng.randrange(10**6):06d}"
    suffix = rng.choice("ABCD")
    return rng.choice(
        [
            f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}",
            f"{prefix}{digits}{suffix}",
            f"{prefix} {digits} {suffix}",
        ]
    )


def _tfn(rng: random.Random) -> str:
    weights = [1, 4, 3, 7, 5, 8, 6, 9, 10]
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        if digits[0] and sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 == 0:
            text = "".join(map(str, digits))
            return rng.choice(
                [text, f"{text[:3]} {text[3:6]} {text[6:]}", f"{text[:3]}-{text[3:6]}-{text[6:]}"]
            )


def _sin(rng: random.Random) -> str:
    body = str(rng.choice([1, 2, 3, 4, 5, 6, 7, 9])) + "".join(str(rng.randrange(10)) for _ in range(7))
    text = body + luhn_check_digit(body)
    return rng.choice([f"{text[:3]} {text[3:6]} {text[6:]}", f"{text[:3]}-{text[3:6]}-{text[6:]}", text])


def _aadhaar(rng: random.Random) -> str:
    while True:
        body = str(rng.randrange(2, 10)) + "".join(str(rng.randrange(10)) for _ in range(10))
        text = body + verhoeff_check_digit(body)
        if text != text[::-1]:
            break
    return rng.choice([f"{text[:4]} {text[4:8]} {text[8:]}", f"{text[:4]}-{text[4:8]}-{text[8:]}", text])


def _pps(rng: random.Random) -> str:
    digits = f"{rng.randrange(10**7):07d}"
    second = rng.choice(["", "", "W", "A", "H"])
    total = sum(int(d) * w for d, w in zip(digits, range(8, 1, -1), strict=True))
    total += 9 * (0 if second in {"", "W"} else ord(second) - 64)
    check = "W" if total % 23 == 0 else chr(64 + total % 23)
    return digits + check + second


def _pan(rng: random.Random) -> str:
    # The fourth letter is the holder's type: P for a person (Faker draws it at random).
    letters = string.ascii_uppercase
    return (
        "".join(rng.choice(letters) for _ in range(3)) + "P" + rng.choice(letters)
        + f"{rng.randrange(10**4):04d}" + rng.choice(letters)
    )  # fmt: skip


def _group(rng: random.Random, compact: str, size: int = 4) -> str:
    separator = rng.choice([" ", " ", "-", ""])
    return separator.join(compact[i : i + size] for i in range(0, len(compact), size))


@dataclass(frozen=True)
class NationalId:
    kind: str
    labels: tuple[str, ...]
    make: Callable[[random.Random, Faker], str]


NATIONAL_IDS: dict[str, tuple[NationalId, ...]] = {
    "en_US": (
        NationalId(
            "US_SSN", ("SSN", "social security number", "Social Security #", "SSN#"), lambda r, f: f.ssn()
        ),
        NationalId(
            "US_ITIN", ("ITIN", "taxpayer ID (ITIN)", "individual taxpayer number"), lambda r, f: f.itin()
        ),
    ),
    "en_GB": (
        NationalId(
            "UK_NINO",
            ("National Insurance number", "NI number", "NINO", "SSN", "NI no"),
            lambda r, f: _nino(r),
        ),
    ),
    "en_CA": (
        NationalId("CA_SIN", ("SIN", "social insurance number", "SIN #", "SSN"), lambda r, f: _sin(r)),
    ),
    "en_AU": (NationalId("AU_TFN", ("TFN", "tax file number", "Tax File No."), lambda r, f: _tfn(r)),),
    "en_IE": (
        NationalId(
            "IE_PPS",
            ("PPS number", "PPSN", "PPS no.", "personal public service number"),
            lambda r, f: _pps(r),
        ),
    ),
    "en_IN": (
        NationalId("IN_AADHAAR", ("Aadhaar", "Aadhaar number", "aadhar no", "UID"), lambda r, f: _aadhaar(r)),
        NationalId("IN_PAN", ("PAN", "PAN card", "PAN number"), lambda r, f: _pan(r)),
    ),
}
# Unknown, reserved and new top-level domains: an address must be redacted whatever its suffix.
ODD_DOMAINS = (
    "probe-mail.example",
    "inbox.test",
    "mailhub.invalid",
    "post.zz",
    "kite.dev",
    "fjord.shop",
    "yarn.xyz",
)
EXTENSIONS = (" x{n}", "x{n}", " ext. {n}", " ext {n}", ", ext. {n}", " (ext {n})")


@dataclass
class Person:
    first: str
    last: str
    title: str = ""

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


class Values:
    """Fresh values of every type for one locale, from Faker and the builders above."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self.fakers = {locale: Faker(locale) for locale in LOCALES}
        for offset, faker in enumerate(self.fakers.values()):
            faker.seed_instance(seed + offset)

    def person(self, locale: str) -> Person:
        faker = self.fakers[locale]
        last = faker.last_name()
        if self.rng.random() < 0.08:
            last = f"{last}-{faker.last_name()}"
        title = self.rng.choice(["", "", "", "", "Mr ", "Ms ", "Mrs ", "Dr "])
        return Person(faker.first_name(), last, title)

    def email(self, locale: str, person: Person) -> str:
        faker = self.fakers[locale]
        local = (
            self.rng.choice(
                [
                    f"{person.first}.{person.last}",
                    f"{person.first[0]}{person.last}",
                    f"{person.first}{self.rng.randrange(1, 99)}",
                    f"{person.last}_{person.first[0]}",
                ]
            )
            .lower()
            .replace(" ", "")
            .replace("'", "")
            .replace("’", "")
        )
        domain = self.rng.choice(
            [faker.free_email_domain(), faker.domain_name(), self.rng.choice(ODD_DOMAINS)]
        )
        return self.rng.choice([f"{local}@{domain}", faker.email(), faker.company_email()])

    def phone(self, locale: str) -> str:
        number = self.fakers[locale].phone_number()
        if "x" not in number and self.rng.random() < 0.25:
            number += self.rng.choice(EXTENSIONS).format(n=self.rng.randrange(1, 99999))
        return number

    def card(self, locale: str) -> str:
        kind = self.rng.choice(
            ["visa16", "visa19", "mastercard", "amex", "discover", "jcb16", "diners", "maestro"]
        )
        compact = self.fakers[locale].credit_card_number(kind)
        if kind == "amex":
            separator = self.rng.choice([" ", "-", ""])
            return separator.join((compact[:4], compact[4:10], compact[10:]))
        return _group(self.rng, compact)

    def iban(self, locale: str) -> str:
        # Faker's en_US/en_AU IBANs are one digit short of a GB IBAN; only en_GB and en_IE build valid ones.
        compact = self.fakers["en_IE" if locale == "en_IE" else "en_GB"].iban()
        return self.rng.choice([" ", ""]).join(compact[i : i + 4] for i in range(0, len(compact), 4))

    def national_id(self, locale: str) -> tuple[NationalId, str, str]:
        choices = NATIONAL_IDS[locale]
        chosen = self.rng.choice(choices)
        value = chosen.make(self.rng, self.fakers[locale])
        return chosen, value, self.rng.choice(chosen.labels)

    def street(self, locale: str) -> str:
        faker = self.fakers[locale]
        if locale == "en_IN":  # Indian street lines are out of this set (see README): use a US one
            faker = self.fakers["en_US"]
        line = faker.street_address()
        if locale in {"en_US", "en_CA"} and self.rng.random() < 0.2:
            line += self.rng.choice([", ", " "]) + faker.secondary_address()
        return line

    def address(self, locale: str) -> tuple[str, str]:
        """A street with its town and postcode: (street part, the whole block)."""
        faker = self.fakers["en_US" if locale == "en_IN" else locale]
        street = self.street(locale)
        town = (
            f"{faker.city()}, {faker.postcode()}"
            if locale != "en_US"
            else f"{faker.city()}, {faker.state_abbr()} {faker.postcode()}"
        )
        separator = self.rng.choice(["\n", ", "]) if "\n" not in street else "\n"
        return street, f"{street}{separator}{town}"

    def postcode(self, locale: str) -> str:
        return self.fakers[locale].postcode()

    def ip(self) -> str:
        faker = self.fakers["en_US"]
        return faker.ipv4_public() if self.rng.random() < 0.8 else faker.ipv6()

    def date_of_birth(self, locale: str) -> str:
        born = self.fakers[locale].date_of_birth(minimum_age=18, maximum_age=90)
        us = locale == "en_US"
        return self.rng.choice(
            [
                born.strftime("%m/%d/%Y" if us else "%d/%m/%Y"),
                born.strftime("%-d %B %Y"),
                born.strftime("%B %-d, %Y"),
                born.isoformat(),
                born.strftime("%d.%m.%Y"),
            ]
        )


# ------------------------------------------------------------------------------------------------------------
# Templates. `{slot}` is a labelled value; `[word]` is unlabelled filler. Every fourth template of each family
# is held out from tuning (see module docstring).

GREETINGS = (
    "Hi,",
    "Hello,",
    "Hi there,",
    "Dear support,",
    "Good morning,",
    "hey",
    "Hello team,",
    "To whom it may concern,",
)
CLOSINGS = ("Thanks,", "Regards,", "Best,", "Many thanks,", "Cheers,", "Kind regards,", "thx", "Sincerely,")

SENTENCES: dict[str, tuple[str, ...]] = {
    "name": (
        "My name is {name} and I ordered the [product] last week.",
        "This is {name}, following up on [order].",
        "{name} again - still waiting on [order].",
        "I'm writing on behalf of my mother, {name}.",
        "The parcel was addressed to {name} but never came.",
        "Please put the order under {name}.",
        "{name} here, the [product] arrived broken.",
        "The account is in the name of {name}.",
        "Can you ask {name} from your returns team to call me?",
        "I spoke to someone yesterday and gave them the name {name}.",
        "We were told {name} would handle the refund.",
        "{name} and I share the account.",
        "Order [order] is for {name}, it's a gift.",
        "The card holder is {name}.",
        "Please update the recipient to {name}.",
        "Hello, {name} speaking, I need help with [order].",
    ),
    "email": (
        "You can email me at {email}.",
        "My e-mail is {email}.",
        "Please send the label to {email} instead.",
        "I never got the confirmation at {email}.",
        "Contact: {email}",
        "reply to {email} please",
        "Update my login to {email}, the old one is gone.",
        "The invoice went to {email} by mistake.",
    ),
    "phone": (
        "Call me on {phone}.",
        "My number is {phone}.",
        "You can reach me at {phone} after 5pm.",
        "Mobile: {phone}",
        "Please text {phone} when it ships.",
        "My phone number changed to {phone}.",
        "Ring {phone} if the courier can't find the house.",
        "Best number to call is {phone}.",
        "Tel {phone}",
        "I tried calling from {phone} but nobody picked up.",
        "Contact number: {phone}",
        "work phone {phone}",
    ),
    "card": (
        "I paid with card {card} and was charged twice.",
        "The card number is {card}.",
        "Please refund to {card}.",
        "My card {card} was declined at checkout.",
        "I used my visa {card}.",
        "Card: {card}",
        "charge it to {card} instead",
        "The payment from card ending... actually the full number is {card}.",
    ),
    "iban": (
        "Please refund to my IBAN {iban}.",
        "My bank details: IBAN {iban}.",
        "Send the money to {iban}.",
        "IBAN: {iban}",
        "Can you transfer it to account {iban}?",
        "The refund should go to {iban}, not the card.",
    ),
    "nid": (
        "My {nid_label} is {nid}.",
        "{nid_label}: {nid}",
        "For verification, my {nid_label} is {nid}.",
        "You asked for my {nid_label} - it's {nid}.",
        "Here is the {nid_label} you needed: {nid}",
        "my {nid_label} {nid}",
        "I already gave my {nid_label} ({nid}) on the phone.",
        "The tax form needs my {nid_label}, which is {nid}.",
    ),
    "street": (
        "Please ship it to {street} instead.",
        "My new address is {street}.",
        "I live at {street}, the parcel went next door.",
        "Deliver to {street} please.",
        "The courier left it at {street} but that's not my house.",
        "Address: {street}",
        "We moved to {street} last month.",
        "send the replacement to {street}",
        "It should have gone to {street}.",
        "Can you change the delivery address to {street}?",
    ),
    "address": (
        "Shipping address:\n{address}",
        "Please send it to:\n{address}",
        "My address is {address}.",
        "New address -\n{address}",
        "Billing address: {address}",
        "Deliver to\n{address}\nThanks",
    ),
    "postcode": (
        "My postcode is {postcode}.",
        "ZIP code {postcode}",
        "postal code: {postcode}",
        "Post code is {postcode} if that helps.",
    ),
    "ip": (
        "I keep getting blocked from {ip}.",
        "The login attempt came from {ip}, that wasn't me.",
        "My IP is {ip}.",
        "Your site banned {ip} for some reason.",
        "Error shows for IP address {ip}",
    ),
    "dob": (
        "My date of birth is {dob}.",
        "DOB: {dob}",
        "I was born on {dob}.",
        "Date of birth {dob}",
        "born {dob}, if you need it",
    ),
}
PRODUCTS = (
    "Summit Light 2 tent",
    "Cascade Ridge 40L pack",
    "Denali Peak down jacket",
    "Portland Trail runners",
    "Yosemite Lantern",
    "Aspen Creek sleeping bag",
    "Highland Fleece",
    "Boulder Pass trekking poles",
    "Sierra Camp stove",
    "Lake Tahoe kayak paddle",
    "Kensington Rain Shell",
    "Sydney Harbour beach towel",
    "Dublin Mist softshell",
    "Victoria Falls water filter",
)
SKUS = ("NB-TENT-2P", "CR-PACK-40", "DP-JKT-M", "PT-SHOE-10", "YL-LAMP-01", "AC-BAG-REG", "SC-STOVE-2")


def held_out(index: int) -> bool:
    return index % 4 == 3


@dataclass(frozen=True)
class Message:
    text: str
    spans: tuple[Span, ...]
    held_out: bool
    shape: str
    names_held_out: tuple[bool, ...] = ()


class _Builder:
    """Concatenates pieces and records where each labelled value lands; applies case and typos."""

    def __init__(self, rng: random.Random, case: str, typos: bool, products: Sequence[str]) -> None:
        self.rng, self.case, self.typos, self.products = rng, case, typos, products
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.length = 0

    def _cased(self, text: str) -> str:
        if self.case == "lower":
            cased = text.lower()
        elif self.case == "upper":
            cased = text.upper()
        else:
            return text
        return cased if len(cased) == len(text) else text

    def text(self, text: str) -> None:
        if "[" in text:
            text = text.replace("[order]", f"ORD-{self.rng.randrange(100000, 999999)}")
            text = text.replace("[product]", self.rng.choice(self.products))
        text = self._cased(text)
        if self.typos and len(text) > 12 and self.rng.random() < 0.5:
            i = self.rng.randrange(1, len(text) - 2)
            if text[i].isalpha() and text[i + 1].isalpha():
                text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        self.parts.append(text)
        self.length += len(text)

    def value(self, kind: str, text: str) -> None:
        text = self._cased(text)
        self.spans.append(Span(kind, self.length, self.length + len(text)))
        self.parts.append(text)
        self.length += len(text)

    def build(self) -> str:
        return "".join(self.parts)


class Generator:
    """Support messages with labelled PII (`messages`) and PII-free ones (`clean_messages`), from one seed."""

    def __init__(self, seed: int, *, templates: str = "all") -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.values = Values(self.rng, seed)
        self.templates = templates  # "all", "tuning" or "held_out"
        self.products = self._split(PRODUCTS)
        self.staff = [self.values.person("en_US") for _ in range(4)]
        self._fill_context: dict[str, object] = {}

    # --- PII messages -------------------------------------------------------------------------------------

    def messages(self, count: int) -> list[Message]:
        return [self.message() for _ in range(count)]

    def _split(self, items: Sequence[str]) -> list[str]:
        """The tuning or held-out part of a list (every fourth item is held out), or all of it."""
        if self.templates == "all":
            return list(items)
        return [item for i, item in enumerate(items) if held_out(i) == (self.templates == "held_out")]

    def _pick(self, family: str) -> tuple[str, bool]:
        options = list(enumerate(SENTENCES[family]))
        if self.templates != "all":
            want = self.templates == "held_out"
            options = [(i, t) for i, t in options if held_out(i) == want]
        index, template = self.rng.choice(options)
        return template, held_out(index)

    def message(self) -> Message:
        rng = self.rng
        locale = rng.choice(LOCALES)
        case = rng.choices(["as is", "lower", "upper"], weights=[80, 15, 5])[0]
        builder = _Builder(rng, case, typos=rng.random() < 0.15, products=self.products)
        person = self.values.person(locale)
        self._names_held_out: list[bool] = []
        shape = rng.choice(["email", "email", "chat", "form", "forwarded", "transcript", "list"])
        families = rng.sample(
            ["email", "phone", "card", "iban", "nid", "street", "address", "postcode", "ip", "dob", "name"],
            k=rng.randint(1, 3),
        )
        held = False
        if shape == "forwarded":
            builder.text("---------- Forwarded message ---------\nFrom: ")
            self._name(builder, person)
            builder.text(" <")
            builder.value("EMAIL_ADDRESS", self.values.email(locale, person))
            builder.text(">\nDate: Mon, 3 Nov 2025 at 09:14\nSubject: Re: order [order]\nTo: ")
            builder.value("EMAIL_ADDRESS", "support@shop.example")  # any address is redacted, ours too
            builder.text("\n\n")
        elif shape == "transcript":
            builder.text("Chat transcript\nAgent: Hi, thanks for waiting. How can I help?\n")
            self._name(builder, person, first_only=True)
            builder.text(": ")
        if shape in {"email", "forwarded"}:
            builder.text(rng.choice(GREETINGS) + rng.choice(["\n\n", " "]))
        if shape == "list" or shape == "form":
            builder.text(rng.choice(["Here are my details:\n", "Details below\n", "", "As requested:\n"]))
            bullet = rng.choice(["- ", "* ", "", "• "])
            labels = {
                "name": "Name",
                "email": "Email",
                "phone": rng.choice(["Phone", "Mobile", "Tel"]),
                "street": "Address",
                "address": "Address",
                "postcode": rng.choice(["Postcode", "ZIP"]),
                "dob": rng.choice(["DOB", "Date of birth"]),
                "ip": "IP",
                "card": "Card",
                "iban": "IBAN",
            }
            for family in ["name", *(f for f in families if f != "name")]:
                if family == "nid":
                    chosen, value, label = self.values.national_id(locale)
                    builder.text(f"{bullet}{label}: ")
                    builder.value(chosen.kind, value)
                else:
                    builder.text(f"{bullet}{labels[family]}: ")
                    self._slot(builder, family, locale, person)
                builder.text("\n")
            held = shape == "form"
        else:
            for family in families:
                template, was_held = self._pick(family)
                held = held or was_held
                self._template(builder, template, locale, person)
                builder.text(rng.choice([" ", " ", "\n"]))
        if shape in {"email", "forwarded"}:
            builder.text("\n" + rng.choice(CLOSINGS) + "\n")
            self._name(builder, person, first_only=rng.random() < 0.3)
            if rng.random() < 0.4:
                builder.text("\n")
                builder.value("PHONE_NUMBER", self.values.phone(locale))
        text = builder.build()
        return Message(text, tuple(builder.spans), held, shape, tuple(self._names_held_out))

    def _template(self, builder: _Builder, template: str, locale: str, person: Person) -> None:
        formatter = string.Formatter()
        nid = self.values.national_id(locale)
        for literal, slot, _, _ in formatter.parse(template):
            if literal:
                builder.text(literal)
            if slot == "nid_label":
                builder.text(nid[2])
            elif slot == "nid":
                builder.value(nid[0].kind, nid[1])
            elif slot:
                self._slot(builder, slot, locale, person)

    def _slot(self, builder: _Builder, slot: str, locale: str, person: Person) -> None:
        values = self.values
        if slot == "name":
            other = person if self.rng.random() < 0.5 else values.person(self.rng.choice(LOCALES))
            self._name(builder, other)
        elif slot == "email":
            builder.value("EMAIL_ADDRESS", values.email(locale, person))
        elif slot == "phone":
            builder.value("PHONE_NUMBER", values.phone(locale))
        elif slot == "card":
            builder.value("CREDIT_CARD", values.card(locale))
        elif slot == "iban":
            builder.value("IBAN_CODE", values.iban(locale))
        elif slot == "street":
            builder.value("STREET_ADDRESS", values.street(locale))
        elif slot == "address":
            builder.value("STREET_ADDRESS", values.address(locale)[1])
        elif slot == "postcode":
            builder.value("ZIP_CODE", values.postcode(locale))
        elif slot == "ip":
            builder.value("IP_ADDRESS", values.ip())
        elif slot == "dob":
            builder.value("DATE_OF_BIRTH", values.date_of_birth(locale))
        else:
            raise KeyError(slot)

    def _name(self, builder: _Builder, person: Person, *, first_only: bool = False) -> None:
        from agent.pii.gazetteer import is_held_out

        if person.title and not first_only and self.rng.random() < 0.5:
            builder.text(person.title)
        value = person.first if first_only else person.full
        if self.rng.random() < 0.1 and not first_only and builder.case == "as is":
            value = value.lower()
        self._names_held_out.append(is_held_out(person.first) or is_held_out(person.last.split("-")[0]))
        builder.value("PERSON", value)

    # --- PII-free messages --------------------------------------------------------------------------------

    def clean_messages(self, count: int) -> list[str]:
        return [self.clean_message() for _ in range(count)]

    def clean_message(self) -> str:
        rng = self.rng
        staff = rng.choice(self.staff)
        order = f"ORD-{rng.randrange(100000, 999999)}"
        product = rng.choice(self.products)
        sku = rng.choice(SKUS)
        amount = rng.choice(
            [
                f"${rng.randrange(5, 900)}.{rng.randrange(100):02d}",
                f"£{rng.randrange(5, 400)}",
                f"{rng.randrange(5, 900)} EUR",
                f"{rng.randrange(5, 900)}.00 USD",
            ]
        )
        day = self.values.fakers["en_US"].date_between("-90d", "+30d")
        date = rng.choice(
            [
                day.strftime("%d/%m/%Y"),
                day.strftime("%B %-d"),
                day.isoformat(),
                day.strftime("%-d %b"),
                day.strftime("%m/%d"),
            ]
        )
        qty = rng.randrange(1, 6)
        tracking = rng.choice(
            [
                f"1Z{rng.randrange(10**6):06d}{rng.randrange(10**10):010d}",
                f"TBA{rng.randrange(10**11):011d}",
                f"{rng.randrange(10**11, 10**12)}",
            ]
        )
        sentences = [
            f"I ordered {qty} {product}s ({sku}) on {date} and only one arrived.",
            f"Order {order} was {amount} but I was charged twice.",
            f"The {product} leaks at the seams after {qty} nights.",
            f"Thanks {staff.first}, that fixed it!",
            f"{staff.first} {staff.last} from your team said the refund of {amount} would take 5-7 days.",
            f"Tracking number {tracking} hasn't moved since {date}.",
            f"Can I swap the {product} for the {rng.choice(self.products)}? Size M instead of L.",
            f"Is the {product} still on sale for {amount}?",
            f"My order {order} says delivered on {date} but nothing came.",
            f"I'd like to return {sku}, it's unused and in the original box.",
            f"Do you ship the {product} to Canada or Ireland?",
            f"The store in Denver had {qty} in stock on {date}.",
            f"Please cancel {order}; I found the {product} cheaper.",
            f"Room 4 at the campsite was fine, the {product} was not.",
            "Version 2.3.1 of your app crashes at checkout, step 3 of 4.",
            f"Can you price match {amount} from the Boston store?",
            f"The {product} weighs 1.8 kg, not 1.2 kg as listed.",
            f"{staff.first} was super helpful on the phone yesterday at 3:45 pm.",
            f"Refund {order} to the original payment method, please.",
            f"Your {product} page says 20% off until {date}.",
            "I rated it 5/5 for the first 30 days, then the zip broke.",
            f"Ticket TCK-{rng.randrange(1000, 99999)} is still open after {qty} weeks.",
        ]
        sentences = self._split(sentences)
        picked = rng.sample(sentences, k=rng.randint(1, 4))
        body = " ".join(picked)
        shape = rng.random()
        if shape < 0.3:
            body = f"{rng.choice(GREETINGS)}\n\n{body}\n\n{rng.choice(CLOSINGS)}"
        elif shape < 0.4:
            body = body.lower()
        elif shape < 0.45:
            body = body.upper()
        return body

    @property
    def allow_list(self) -> list[str]:
        """The tenant's staff names (settings): never redacted."""
        return [p.full for p in self.staff] + [p.first for p in self.staff] + [p.last for p in self.staff]


# ------------------------------------------------------------------------------------------------------------
# Scoring: a value counts as found only when every letter and digit of it is covered by detections (a partial
# redaction still leaks); a detection on the PII-free set is a value wrongly redacted.


@dataclass
class GeneratedReport:
    labelled: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    labelled_held: Counter[str] = field(default_factory=Counter)
    found_held: Counter[str] = field(default_factory=Counter)
    names_held_out: int = 0
    names_held_out_found: int = 0
    detections: int = 0
    stray_detections: int = 0
    clean_messages: int = 0
    clean_detections: Counter[str] = field(default_factory=Counter)
    clean_touched: int = 0
    misses: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def recall(self, kinds: Iterable[str] | None = None, *, held: bool | None = None) -> float:
        labelled = (
            self.labelled
            if held is None
            else (self.labelled_held if held else self.labelled - self.labelled_held)
        )
        found = self.found if held is None else (self.found_held if held else self.found - self.found_held)
        chosen = list(labelled) if kinds is None else list(kinds)
        total = sum(labelled[k] for k in chosen)
        return sum(found[k] for k in chosen) / total if total else 1.0

    @property
    def precision(self) -> float:
        """Detections on the PII messages that overlap a labelled value."""
        return 1 - self.stray_detections / self.detections if self.detections else 1.0

    @property
    def clean_precision(self) -> float:
        """1 - values wrongly redacted per PII-free message."""
        total = sum(self.clean_detections.values())
        return 1 - total / self.clean_messages if self.clean_messages else 1.0


def _covered(span: Span, text: str, results: Sequence) -> bool:  # type: ignore[type-arg]
    needed = [i for i in range(span.start, span.end) if text[i].isalnum()]
    return all(any(r.start <= i < r.end for r in results) for i in needed)


def evaluate(
    analyzer: Analyzer, messages: Sequence[Message], clean: Sequence[str], allow_list: Sequence[str] = ()
) -> GeneratedReport:
    report = GeneratedReport()
    started = time.perf_counter()
    for message in messages:
        results = analyzer.analyze(message.text, "en", allow_list=list(allow_list) or None)
        names = iter(message.names_held_out)
        for span in message.spans:
            found = _covered(span, message.text, results)
            report.labelled[span.entity_type] += 1
            report.found[span.entity_type] += found
            if message.held_out:
                report.labelled_held[span.entity_type] += 1
                report.found_held[span.entity_type] += found
            if span.entity_type == "PERSON" and next(names, False):
                report.names_held_out += 1
                report.names_held_out_found += found
            if not found:
                report.misses.setdefault(span.entity_type, []).append(
                    (message.text[span.start : span.end], message.text)
                )
        for result in results:
            report.detections += 1
            if not any(result.start < s.end and s.start < result.end for s in message.spans):
                report.stray_detections += 1
    for text in clean:
        report.clean_messages += 1
        results = analyzer.analyze(text, "en", allow_list=list(allow_list) or None)
        report.clean_touched += bool(results)
        for result in results:
            report.clean_detections[result.entity_type] += 1
            recognizer = (result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY, "?")
            report.false_positives.append(
                (f"{result.entity_type} ({recognizer})", text[result.start : result.end], text)
            )
    report.seconds = time.perf_counter() - started
    return report


def format_report(
    report: GeneratedReport, seed: int, n_messages: int, n_clean: int, examples: int = 3
) -> str:
    lines = [
        f"PII on freshly generated support messages: seed {seed} "
        f"(replay: python -m bench.pii_generated --seed {seed})",
        f"{n_messages} messages with PII ({', '.join(LOCALES)}), {n_clean} PII-free messages",
        "- found: every letter and digit of the value is covered by a detection (partial redaction = leak)",
        "- held-out: templates never used while tuning the recognizers",
        "",
        f"{'type':16} {'values':>6} {'recall':>7} | {'tuning':>7} {'held-out':>8}",
    ]
    for kind in sorted(report.labelled, key=lambda k: -report.labelled[k]):
        tuning_n = report.labelled[kind] - report.labelled_held[kind]
        lines.append(
            f"{kind:16} {report.labelled[kind]:6d} {report.recall([kind]):7.3f} | "
            f"{report.recall([kind], held=False) if tuning_n else float('nan'):7.3f} "
            f"{report.recall([kind], held=True) if report.labelled_held[kind] else float('nan'):8.3f}"
        )
    structured = [k for k in STRUCTURED_TYPES if report.labelled[k]]
    held_names = (
        report.names_held_out_found / report.names_held_out if report.names_held_out else float("nan")
    )
    lines += [
        "",
        f"structured types recall      {report.recall(structured):.3f}",
        f"names recall                 {report.recall(['PERSON']):.3f} (names outside the gazetteer: "
        f"{held_names:.3f} of {report.names_held_out})",
        f"street addresses recall      {report.recall(['STREET_ADDRESS']):.3f}",
        f"precision on PII messages    {report.precision:.3f} "
        f"({report.stray_detections} of {report.detections} "
        "detections overlap no value)",
        f"precision on PII-free set    {report.clean_precision:.3f} "
        f"({sum(report.clean_detections.values())} values "
        f"wrongly redacted in {report.clean_messages} messages; {report.clean_touched} messages touched"
        f"{': ' + dict(report.clean_detections).__repr__() if report.clean_detections else ''})",
        f"seconds                      {report.seconds:.1f}",
    ]
    if examples:
        for kind, misses in sorted(report.misses.items()):
            for value, text in misses[:examples]:
                lines.append(f"  missed {kind}: {value!r} in {text!r}")
        for kind, value, text in report.false_positives[: examples * 3]:
            lines.append(f"  wrongly redacted {kind}: {value!r} in {text!r}")
    return "\n".join(lines)


def fresh_seed() -> int:
    return int.from_bytes(os.urandom(4), "big")


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pii_generated", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="replay one run (default: a fresh seed)")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clean", type=int, default=1000, help="PII-free messages")
    parser.add_argument("--templates", choices=["all", "tuning", "held_out"], default="all")
    parser.add_argument("--examples", type=int, default=3, help="misses and false positives shown per type")
    args = parser.parse_args(list(argv))

    from agent.pii.engine import build_analyzer

    seed = fresh_seed() if args.seed is None else args.seed
    generator = Generator(seed, templates=args.templates)
    messages = generator.messages(args.messages)
    clean = generator.clean_messages(args.clean)
    report = evaluate(build_analyzer(), messages, clean, generator.allow_list)
    print(format_report(report, seed, len(messages), len(clean), args.examples))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
