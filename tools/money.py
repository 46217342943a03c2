"""Money is integer cents inside Deskpilot; the model reads and writes decimal strings with two places."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_SYMBOLS = {"USD": "$", "CAD": "CA$", "EUR": "€", "GBP": "£"}


def to_cents(amount: Decimal) -> int:
    """Exact for the two-place amounts the argument models accept; rounds half-up otherwise."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def decimal_str(cents: int) -> str:
    """`4500` -> `"45.00"`: what tool results carry, next to a `currency` field."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def format_money(cents: int, currency: str = "USD") -> str:
    """`4500` -> `"$45.00"`, for sentences in policy reasons and checks."""
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{decimal_str(cents)}" if symbol else f"{decimal_str(cents)} {currency}"
