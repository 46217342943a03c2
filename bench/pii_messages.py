"""Support messages with labelled PII, and PII-free ones, written from templates and fresh values."""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass

from api.eval.pii_metrics import Span
from bench.pii_values import LOCALES, Person, Values

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
        """The tenant's staff names (settings, `staff_names`): spared only where a name is one of them whole,
        so a tenant lists its staff's full names and the first names they sign with."""
        return [p.full for p in self.staff] + [p.first for p in self.staff]
