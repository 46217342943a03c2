"""Deskpilot's own Presidio recognizers, one class per entity, in Presidio's pattern + context style."""

from __future__ import annotations

from collections.abc import Iterable

from presidio_analyzer import EntityRecognizer

from agent.pii.recognizers.address import StreetAddressRecognizer
from agent.pii.recognizers.email import OfflineEmailRecognizer
from agent.pii.recognizers.finance import (
    AccountNumberRecognizer,
    CardExpiryRecognizer,
    CardNumberRecognizer,
    CardSecurityCodeRecognizer,
)
from agent.pii.recognizers.identity import DateOfBirthRecognizer, DriverLicenseRecognizer, PassportRecognizer
from agent.pii.recognizers.national_id import (
    AadhaarRecognizer,
    NinoRecognizer,
    PanRecognizer,
    PpsRecognizer,
    SinRecognizer,
    TfnRecognizer,
)
from agent.pii.recognizers.person import InitialedNameRecognizer, NameCueRecognizer
from agent.pii.recognizers.person_gazetteer import GazetteerNameRecognizer
from agent.pii.recognizers.person_roles import NameRoleRecognizer
from agent.pii.recognizers.phone import DialablePhoneRecognizer, GroupedPhoneRecognizer
from agent.pii.recognizers.postcode import ZipCodeRecognizer

__all__ = [
    "AadhaarRecognizer",
    "NinoRecognizer",
    "PanRecognizer",
    "PpsRecognizer",
    "SinRecognizer",
    "TfnRecognizer",
    "AccountNumberRecognizer",
    "CardExpiryRecognizer",
    "CardNumberRecognizer",
    "CardSecurityCodeRecognizer",
    "DateOfBirthRecognizer",
    "DialablePhoneRecognizer",
    "DriverLicenseRecognizer",
    "GazetteerNameRecognizer",
    "GroupedPhoneRecognizer",
    "InitialedNameRecognizer",
    "NameCueRecognizer",
    "NameRoleRecognizer",
    "OfflineEmailRecognizer",
    "PassportRecognizer",
    "StreetAddressRecognizer",
    "ZipCodeRecognizer",
    "custom_recognizers",
]


def custom_recognizers(english_words: Iterable[str] = ()) -> list[EntityRecognizer]:
    """Fresh instances of every recognizer we add to Presidio's predefined ones; `english_words` (from the
    spaCy model) tells a name made of words from one that is a name."""
    return [
        StreetAddressRecognizer(),
        ZipCodeRecognizer(),
        GroupedPhoneRecognizer(),
        DialablePhoneRecognizer(),
        NameCueRecognizer(),
        InitialedNameRecognizer(),
        NameRoleRecognizer(),
        GazetteerNameRecognizer(english_words),
        CardNumberRecognizer(),
        CardExpiryRecognizer(),
        CardSecurityCodeRecognizer(),
        AccountNumberRecognizer(),
        DriverLicenseRecognizer(),
        PassportRecognizer(),
        DateOfBirthRecognizer(),
        OfflineEmailRecognizer(),
        NinoRecognizer(),
        SinRecognizer(),
        TfnRecognizer(),
        AadhaarRecognizer(),
        PanRecognizer(),
        PpsRecognizer(),
    ]
