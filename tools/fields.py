"""Argument types shared by the tool models: what the model may send, checked before any tool runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema


class ToolArgs(BaseModel):
    """Unknown keys are refused, so the model cannot smuggle in trusted values such as a customer id."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


OrderNumber = Annotated[
    str,
    StringConstraints(pattern=r"^ORD-\d{6}$"),
    BeforeValidator(_upper),  # runs first: "ord-104233 " is what a customer types; accept it
    Field(description="Order number: ORD- followed by six digits."),
]

# Money arguments are decimal amounts in the order's currency with at most two places (45.5, "45.50");
# tools convert them to integer cents at once. The schema says "number" so the model sends plain JSON.
Amount = Annotated[
    Decimal,
    Field(gt=0, max_digits=9, decimal_places=2),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0}),
    Field(description="Amount in the order's currency, at most two decimals, e.g. 45.50."),
]

CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    BeforeValidator(_upper),
    Field(description="Two-letter ISO country code, e.g. US."),
]

PostalCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9 -]{1,9}$"),
    BeforeValidator(_upper),
    Field(description="ZIP or postal code."),
]
