"""Deskpilot's own Presidio recognizers, one class per entity, in Presidio's pattern + context style."""

from __future__ import annotations

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
from agent.pii.recognizers.person import InitialedNameRecognizer, NameCueRecognizer
from agent.pii.recognizers.person_roles import NameRoleRecognizer
from agent.pii.recognizers.phone import GroupedPhoneRecognizer
from agent.pii.recognizers.postcode import ZipCodeRecognizer

__all__ = [
    "AccountNumberRecognizer",
    "CardExpiryRecognizer",
    "CardNumberRecognizer",
    "CardSecurityCodeRecognizer",
    "DateOfBirthRecognizer",
    "DriverLicenseRecognizer",
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


def custom_recognizers() -> list[EntityRecognizer]:
    """Fresh instances of every recognizer we add to Presidio's predefined ones."""
    return [
        StreetAddressRecognizer(),
        ZipCodeRecognizer(),
        GroupedPhoneRecognizer(),
        NameCueRecognizer(),
        InitialedNameRecognizer(),
        NameRoleRecognizer(),
        CardNumberRecognizer(),
        CardExpiryRecognizer(),
        CardSecurityCodeRecognizer(),
        AccountNumberRecognizer(),
        DriverLicenseRecognizer(),
        PassportRecognizer(),
        DateOfBirthRecognizer(),
        OfflineEmailRecognizer(),
    ]
