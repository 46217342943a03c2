"""Prices per model and the cost of a call, including cached input and table overrides."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from agent.pricing import PRICES, ModelPrice, cost_usd, load_price_table, normalize_model_id, price_for


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-11-20", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("OpenAI/GPT-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("my-azure-gpt4o-deployment", "my-azure-gpt4o-deployment"),
        ("deskpilot-offline", "deskpilot-offline"),
    ],
)
def test_normalize_model_id(model: str, expected: str) -> None:
    assert normalize_model_id(model) == expected


@pytest.mark.parametrize(
    ("model", "input_tokens", "cached", "output", "expected"),
    [
        # 1M fresh input + 1M output on gpt-4o: 2.50 + 10.00
        ("gpt-4o", 1_000_000, 0, 1_000_000, Decimal("12.50")),
        # 2,000 input of which 1,536 cached, 300 output: (464*2.50 + 1536*1.25 + 300*10) / 1e6
        ("gpt-4o-2024-11-20", 2000, 1536, 300, Decimal("0.00608")),
        # (5904*0.15 + 4096*0.075 + 500*0.60) / 1e6
        ("openai/gpt-4o-mini", 10_000, 4_096, 500, Decimal("0.0014928")),
        ("deskpilot-offline", 50_000, 0, 5_000, Decimal(0)),
        ("gpt-4o", 0, 0, 0, Decimal(0)),
    ],
)
def test_cost_usd(model: str, input_tokens: int, cached: int, output: int, expected: Decimal) -> None:
    assert cost_usd(model, input_tokens, cached, output) == expected


def test_cached_tokens_are_billed_at_half_price_on_gpt_4o() -> None:
    uncached = cost_usd("gpt-4o", 4096, 0, 0)
    fully_cached = cost_usd("gpt-4o", 4096, 4096, 0)
    assert fully_cached * 2 == uncached


def test_unknown_model_costs_zero_and_is_flagged_by_price_for() -> None:
    assert cost_usd("claude-x", 1000, 0, 1000) == Decimal(0)
    assert price_for("claude-x") is None
    assert price_for("gpt-4o-mini") == PRICES["gpt-4o-mini"]
    assert price_for("gpt-4o-mini") != price_for("gpt-4o")  # no prefix matching between model families


@pytest.mark.parametrize(("input_tokens", "cached", "output"), [(-1, 0, 0), (10, 0, -5), (10, 11, 0)])
def test_impossible_token_counts_are_rejected(input_tokens: int, cached: int, output: int) -> None:
    with pytest.raises(ValueError):
        cost_usd("gpt-4o", input_tokens, cached, output)


def test_overrides_extend_and_replace_the_table() -> None:
    table = load_price_table(
        '{"My-Azure-GPT4o": {"input": 2.75, "cached_input": 1.375, "output": 11},'
        ' "gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.6},'
        ' "gpt-4o-2024-05-13": {"input": 5, "cached_input": 5, "output": 15}}'
    )
    assert table["my-azure-gpt4o"] == ModelPrice(Decimal("2.75"), Decimal("1.375"), Decimal("11"))
    assert table["gpt-4o-mini"].cached_input == Decimal("0.075")  # exact decimal, not a float
    assert cost_usd("my-azure-gpt4o", 1_000_000, 0, 0, table=table) == Decimal("2.75")
    # An exact snapshot entry wins over its normalised family; other snapshots still map to the family.
    assert cost_usd("gpt-4o-2024-05-13", 1_000_000, 0, 0, table=table) == Decimal(5)
    assert cost_usd("gpt-4o-2024-11-20", 1_000_000, 0, 0, table=table) == Decimal("2.50")
    assert set(PRICES) == {"gpt-4o", "gpt-4o-mini", "deskpilot-offline"}  # the default is untouched


@pytest.mark.parametrize("text", [None, "", "  "])
def test_empty_override_keeps_defaults(text: str | None) -> None:
    assert load_price_table(text) == dict(PRICES)


@pytest.mark.parametrize(
    "text",
    ['{"x": {"input": -1, "cached_input": 0, "output": 0}}', '{"x": {"input": 1}}', "not json", "[1, 2]"],
)
def test_invalid_overrides_are_rejected(text: str) -> None:
    with pytest.raises(ValidationError):
        load_price_table(text)
