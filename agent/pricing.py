"""Model prices in USD per million tokens, and the cost of one model call."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, TypeAdapter
from pydantic.dataclasses import dataclass

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage

PerMillion = Annotated[Decimal, Field(ge=0)]
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens. Cached input tokens are billed at `cached_input` instead of `input`."""

    input: PerMillion
    cached_input: PerMillion
    output: PerMillion


# OpenAI list prices (standard tier). Override or extend with `load_price_table` (a JSON setting).
PRICES: Mapping[str, ModelPrice] = MappingProxyType(
    {
        "gpt-4o": ModelPrice(input=Decimal("2.50"), cached_input=Decimal("1.25"), output=Decimal("10.00")),
        "gpt-4o-mini": ModelPrice(
            input=Decimal("0.15"), cached_input=Decimal("0.075"), output=Decimal("0.60")
        ),
        "deskpilot-offline": ModelPrice(input=Decimal(0), cached_input=Decimal(0), output=Decimal(0)),
    }
)

_TABLE = TypeAdapter(dict[str, ModelPrice])
_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def normalize_model_id(model: str) -> str:
    """Map provider spellings to the table's ids: `openai/gpt-4o` and `gpt-4o-2024-11-20` -> `gpt-4o`.

    Anything else (an Azure deployment name, a local model) passes through unchanged, lower-cased.
    """
    model_id = model.strip().lower().rsplit("/", 1)[-1]  # OpenRouter-style "vendor/model"
    return _SNAPSHOT_SUFFIX.sub("", model_id)


def price_for(model: str, table: Mapping[str, ModelPrice] = PRICES) -> ModelPrice | None:
    """The price of `model`, or None when the table does not know it (the caller flags it as unpriced).

    An exact entry wins over the normalised one, so a dated snapshot can carry its own price.
    """
    exact = model.strip().lower()
    return table.get(exact) or table.get(normalize_model_id(model))


def cost_usd(
    model: str,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    table: Mapping[str, ModelPrice] = PRICES,
) -> Decimal:
    """Exact cost of one call. `cached_tokens` are part of `input_tokens`, billed at the cached rate.

    An unknown model costs Decimal(0): recording a call must never fail on pricing; use `price_for(model)
    is None` to report the cost as unknown rather than free.
    """
    if min(input_tokens, cached_tokens, output_tokens) < 0:
        raise ValueError("token counts cannot be negative")
    if cached_tokens > input_tokens:
        raise ValueError(f"cached tokens ({cached_tokens}) exceed input tokens ({input_tokens})")
    price = price_for(model, table)
    if price is None:
        return Decimal(0)
    fresh = input_tokens - cached_tokens
    total = fresh * price.input + cached_tokens * price.cached_input + output_tokens * price.output
    return total / MILLION


def load_price_table(
    overrides_json: str | None, base: Mapping[str, ModelPrice] = PRICES
) -> dict[str, ModelPrice]:
    """`base` extended/overridden by a JSON object such as
    `{"my-azure-gpt4o": {"input": 2.5, "cached_input": 1.25, "output": 10}}`; keys are lower-cased.

    Invalid JSON or negative prices raise pydantic's ValidationError, naming the offending entry.
    """
    table = dict(base)
    if overrides_json and overrides_json.strip():
        table.update(
            {name.strip().lower(): price for name, price in _TABLE.validate_json(overrides_json).items()}
        )
    return table


def sum_usage(replies: list[AIMessage], prices: Mapping[str, ModelPrice] = PRICES) -> dict[str, Any]:
    """Tokens and cost of this turn's model calls, in total and per call."""
    calls: list[dict[str, Any]] = []
    for reply in replies:
        usage: dict[str, Any] = dict(reply.usage_metadata or {})
        model = str(
            reply.response_metadata.get("model_name")
            or reply.response_metadata.get("deskpilot_model")
            or "deskpilot-offline"
        )
        input_tokens = int(usage.get("input_tokens", 0) or 0)
        cached = int((usage.get("input_token_details") or {}).get("cache_read", 0) or 0)
        output_tokens = int(usage.get("output_tokens", 0) or 0)
        calls.append(
            {
                "model": model,
                "input_tokens": input_tokens,
                "cached_tokens": min(cached, input_tokens),
                "output_tokens": output_tokens,
                "cost_usd": float(
                    cost_usd(model, input_tokens, min(cached, input_tokens), output_tokens, prices)
                ),
                "priced": price_for(model, prices) is not None,
                "latency_ms": reply.response_metadata.get("latency_ms"),
            }
        )
    return {
        "input_tokens": sum(c["input_tokens"] for c in calls),
        "cached_tokens": sum(c["cached_tokens"] for c in calls),
        "output_tokens": sum(c["output_tokens"] for c in calls),
        "cost_usd": round(sum(c["cost_usd"] for c in calls), 8),
        "model_calls": len(calls),
        "calls": calls,
    }
