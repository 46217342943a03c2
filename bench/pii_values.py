"""Fresh personal values for generated support messages, national ids built with their checksums."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker

LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE", "en_IN")

# Each national identifier is built with its checksum (Faker's Aadhaar and PPS numbers have none, and
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


def random_nino(rng: random.Random) -> str:
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


def random_tfn(rng: random.Random) -> str:
    weights = [1, 4, 3, 7, 5, 8, 6, 9, 10]
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        if digits[0] and sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 == 0:
            text = "".join(map(str, digits))
            return rng.choice(
                [text, f"{text[:3]} {text[3:6]} {text[6:]}", f"{text[:3]}-{text[3:6]}-{text[6:]}"]
            )


def random_sin(rng: random.Random) -> str:
    body = str(rng.choice([1, 2, 3, 4, 5, 6, 7, 9])) + "".join(str(rng.randrange(10)) for _ in range(7))
    text = body + luhn_check_digit(body)
    return rng.choice([f"{text[:3]} {text[3:6]} {text[6:]}", f"{text[:3]}-{text[3:6]}-{text[6:]}", text])


def random_aadhaar(rng: random.Random) -> str:
    while True:
        body = str(rng.randrange(2, 10)) + "".join(str(rng.randrange(10)) for _ in range(10))
        text = body + verhoeff_check_digit(body)
        if text != text[::-1]:
            break
    return rng.choice([f"{text[:4]} {text[4:8]} {text[8:]}", f"{text[:4]}-{text[4:8]}-{text[8:]}", text])


def random_pps(rng: random.Random) -> str:
    digits = f"{rng.randrange(10**7):07d}"
    second = rng.choice(["", "", "W", "A", "H"])
    total = sum(int(d) * w for d, w in zip(digits, range(8, 1, -1), strict=True))
    total += 9 * (0 if second in {"", "W"} else ord(second) - 64)
    check = "W" if total % 23 == 0 else chr(64 + total % 23)
    return digits + check + second


def random_pan(rng: random.Random) -> str:
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
            lambda r, f: random_nino(r),
        ),
    ),
    "en_CA": (
        NationalId("CA_SIN", ("SIN", "social insurance number", "SIN #", "SSN"), lambda r, f: random_sin(r)),
    ),
    "en_AU": (NationalId("AU_TFN", ("TFN", "tax file number", "Tax File No."), lambda r, f: random_tfn(r)),),
    "en_IE": (
        NationalId(
            "IE_PPS",
            ("PPS number", "PPSN", "PPS no.", "personal public service number"),
            lambda r, f: random_pps(r),
        ),
    ),
    "en_IN": (
        NationalId(
            "IN_AADHAAR", ("Aadhaar", "Aadhaar number", "aadhar no", "UID"), lambda r, f: random_aadhaar(r)
        ),
        NationalId("IN_PAN", ("PAN", "PAN card", "PAN number"), lambda r, f: random_pan(r)),
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
