"""Sensitive tools: policy before approval, exactly-once execution keyed by the approval, races included."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from tests.tools.store_fixtures import NOW, Shop, days
from tools import check_tool, run_tool
from tools.backends import sql_changes
from tools.backends.sql import SqlStoreBackend
from tools.backends.sql_models import OrderChangeRow, OrderRow, RefundRow, TicketRow
from tools.errors import ApprovalRequired, IdempotencyConflict, PolicyViolation, ToolError
from tools.policy import TenantPolicy


def rows(shop: Shop, table: Any, *where: Any) -> int:
    with Session(shop.engine) as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


def refund_args(
    shop: Shop, label: str = "delivered_refundable", amount: str = "25.00", customer: str = "CUS-1001"
):
    return {"order_number": shop.order(customer, label), "amount": amount, "reason": "damaged"}


def snapshot(shop: Shop) -> tuple[int, ...]:
    with Session(shop.engine) as session:
        stamps = session.exec(select(func.max(OrderRow.updated_at))).one()
    return (rows(shop, RefundRow), rows(shop, OrderChangeRow), rows(shop, TicketRow), hash(stamps))


# --- check: the policy, before any approval exists -----------------------------------------------------


def test_check_lists_passed_checks_without_side_effects(shop: Shop) -> None:
    before = snapshot(shop)
    checks = check_tool("issue_refund", refund_args(shop), shop.ctx())
    assert checks[0].startswith("Order ") and "belongs to the signed-in customer CUS-1001" in checks[0]
    assert any("refund window is open" in c for c in checks)
    assert any("$25.00 does not exceed the refundable" in c for c in checks)
    assert snapshot(shop) == before


@pytest.mark.parametrize(
    ("tool", "args", "customer", "error"),
    [
        ("issue_refund", {"label": "delivered_old"}, "CUS-1001", "window .* ended"),
        ("issue_refund", {"label": "in_transit"}, "CUS-1001", "after it is delivered"),
        ("issue_refund", {"label": "processing"}, "CUS-1001", "cancelled instead"),
        ("issue_refund", {"label": "lost_in_transit"}, "CUS-1002", "treated as lost"),
        ("issue_refund", {"label": "final_sale_only"}, "CUS-1002", "final sale"),
        (
            "issue_refund",
            {"label": "delivered_refundable", "amount": "99999.00"},
            "CUS-1001",
            "most that can",
        ),
        (
            "issue_refund",
            {"label": "delivered_over_limit", "amount": "600.00"},
            "CUS-1002",
            "needs a supervisor",
        ),
        ("cancel_order", {"label": "in_transit"}, "CUS-1001", "already shipped"),
        ("cancel_order", {"label": "delivered_refundable"}, "CUS-1001", "ask for a refund"),
        ("update_shipping_address", {"label": "in_transit"}, "CUS-1001", "shipped"),
        ("update_shipping_address", {"label": "processing", "country": "FR"}, "CUS-1001", "ship only to"),
    ],
)
def test_policy_refusals_reach_neither_approval_nor_store(
    shop: Shop, tool: str, args: dict[str, str], customer: str, error: str
) -> None:
    number = shop.order(customer, args["label"])
    raw: dict[str, Any] = {"order_number": number}
    if tool == "issue_refund":
        raw |= {"amount": args.get("amount", "10.00"), "reason": "damaged"}
    elif tool == "cancel_order":
        raw |= {"reason": "customer_request"}
    else:
        raw |= {
            "street": "3 Rue Oberkampf",
            "city": "Paris",
            "postal_code": "75011",
            "country": args.get("country", "US"),
        }
    before = snapshot(shop)
    with pytest.raises(PolicyViolation, match=error):
        check_tool(tool, raw, shop.ctx(customer))
    with pytest.raises(PolicyViolation, match=error):  # execution re-checks: an approval cannot override it
        run_tool(tool, raw, shop.ctx(customer, idempotency_key=f"appr-{tool}"))
    assert snapshot(shop)[:3] == before[:3]


def test_tenant_limit_comes_from_context_or_backend(shop: Shop) -> None:
    strict = TenantPolicy(refund_limit_cents=2_000)
    with pytest.raises(PolicyViolation, match=r"\$20\.00 limit .* supervisor"):
        check_tool("issue_refund", refund_args(shop), shop.ctx(policy=strict))
    backend = SqlStoreBackend(shop.engine, policies={"default": strict})
    ctx = shop.ctx()
    ctx = type(ctx)(**{**ctx.__dict__, "backend": backend})
    with pytest.raises(PolicyViolation, match="supervisor"):
        check_tool("issue_refund", refund_args(shop), ctx)
    assert check_tool("issue_refund", refund_args(shop, amount="20.00"), ctx)
    assert check_tool("issue_refund", refund_args(shop), shop.ctx(tenant="default"))  # default policy: $500


# --- execution: exactly once ---------------------------------------------------------------------------


def test_execution_needs_the_approval_key(shop: Shop) -> None:
    before = snapshot(shop)
    for tool, args in [
        ("issue_refund", refund_args(shop)),
        ("cancel_order", {"order_number": shop.order("CUS-1001", "processing"), "reason": "other"}),
    ]:
        with pytest.raises(ApprovalRequired):
            run_tool(tool, args, shop.ctx())
    assert snapshot(shop) == before


def test_same_key_twice_writes_one_refund(shop: Shop) -> None:
    ctx = shop.ctx(idempotency_key="approval-1")
    first = run_tool("issue_refund", refund_args(shop), ctx)
    second = run_tool("issue_refund", refund_args(shop), ctx)
    assert first["duplicate"] is False and second["duplicate"] is True
    assert {k: v for k, v in second.items() if k != "duplicate"} == {
        k: v for k, v in first.items() if k != "duplicate"
    }
    assert rows(shop, RefundRow, RefundRow.idempotency_key == "approval-1") == 1
    order = shop.backend.get_order("default", first["order_number"])
    assert order is not None and order.refunded_cents == 2_500
    assert first["status"] == "pending" and first["arrives_between"] == ["2026-03-25", "2026-04-01"]


def test_retry_after_the_refund_used_up_the_order_still_replays(shop: Shop) -> None:
    number = shop.order("CUS-1001", "delivered_refundable")
    everything = run_tool("lookup_refund", {"order_number": number}, shop.ctx())["eligibility"][
        "refundable_amount"
    ]
    args = {"order_number": number, "amount": everything, "reason": "defective"}
    ctx = shop.ctx(idempotency_key="approval-all")
    assert run_tool("issue_refund", args, ctx)["duplicate"] is False
    with pytest.raises(PolicyViolation, match="fully refunded"):
        check_tool("issue_refund", args, shop.ctx())  # a new proposal is refused ...
    assert run_tool("issue_refund", args, ctx)["duplicate"] is True  # ... the same approval replays
    assert rows(shop, RefundRow, RefundRow.idempotency_key == "approval-all") == 1


def test_policy_is_checked_again_at_execution(shop: Shop) -> None:
    args = refund_args(shop)
    assert check_tool("issue_refund", args, shop.ctx())  # proposed while the window was open
    late = shop.ctx(now=NOW + days(40), idempotency_key="approval-late")
    with pytest.raises(PolicyViolation, match="window"):
        run_tool("issue_refund", args, late)
    assert rows(shop, RefundRow, RefundRow.idempotency_key == "approval-late") == 0


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("issue_refund", {"label": "partially_refunded", "amount": "25.00", "reason": "damaged"}),
        ("issue_refund", {"label": "delivered_refundable", "amount": "26.00", "reason": "damaged"}),
        ("cancel_order", {"label": "processing", "reason": "other"}),
    ],
)
def test_a_key_cannot_be_reused_for_another_action(shop: Shop, tool: str, args: dict[str, str]) -> None:
    ctx = shop.ctx(idempotency_key="approval-x")
    run_tool("issue_refund", refund_args(shop), ctx)
    raw = {k: v for k, v in args.items() if k != "label"} | {
        "order_number": shop.order("CUS-1001", args["label"])
    }
    with pytest.raises(IdempotencyConflict):
        run_tool(tool, raw, ctx)
    assert rows(shop, RefundRow, RefundRow.idempotency_key == "approval-x") == 1


def test_cancel_order_refunds_everything_once(shop: Shop) -> None:
    number = shop.order("CUS-1001", "processing")
    order = shop.backend.get_order("default", number)
    assert order is not None
    ctx = shop.ctx(idempotency_key="approval-cancel")
    result = run_tool("cancel_order", {"order_number": number, "reason": "ordered_by_mistake"}, ctx)
    assert result["status"] == "cancelled" and result["refund_amount"] == f"{order.paid_cents / 100:.2f}"
    again = run_tool("cancel_order", {"order_number": number, "reason": "ordered_by_mistake"}, ctx)
    assert again["duplicate"] is True and again["refund_id"] == result["refund_id"]
    after = shop.backend.get_order("default", number)
    assert after is not None and after.status == "cancelled" and after.refunded_cents == order.paid_cents
    assert [r.reason for r in after.refunds] == ["order_cancelled"]
    verdict = run_tool("lookup_refund", {"order_number": number}, shop.ctx())["eligibility"]
    assert verdict["eligible"] is False and "nothing left" in verdict["reasons"][0]


def test_update_shipping_address_before_shipping(shop: Shop) -> None:
    number = shop.order("CUS-1001", "processing")
    args = {
        "order_number": number,
        "street": "77 Harbour Rd",
        "street2": "Unit 4",
        "city": "Vancouver",
        "region": "BC",
        "postal_code": "v6k 2g4",
        "country": "ca",
    }
    checks = check_tool("update_shipping_address", args, shop.ctx())
    assert "CA is a country we ship to." in checks
    ctx = shop.ctx(idempotency_key="approval-address")
    result = run_tool("update_shipping_address", args, ctx)
    assert result["shipping_address"]["city"] == "Vancouver" and result["shipping_address"]["country"] == "CA"
    assert result["shipping_address"]["postal_code"] == "V6K 2G4"
    order = shop.backend.get_order("default", number)
    assert order is not None and order.shipping_address.street == "77 Harbour Rd"
    assert run_tool("update_shipping_address", args, ctx)["duplicate"] is True
    with pytest.raises(IdempotencyConflict):
        run_tool("update_shipping_address", args | {"street": "1 Other St"}, ctx)


# --- races ----------------------------------------------------------------------------------------------


def race(workers: int, fn: Callable[[], dict[str, Any]]) -> list[dict[str, Any] | ToolError]:
    barrier, results = threading.Barrier(workers), []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        try:
            outcome: dict[str, Any] | ToolError = fn()
        except ToolError as error:
            outcome = error
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == workers
    return results


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_concurrent_executions_of_one_approval_write_one_row(
    make_shop: Callable[..., Shop], journal_mode: str
) -> None:
    shop = make_shop(journal_mode=journal_mode)
    for attempt in range(3):
        key = f"approval-race-{attempt}"
        ctx = shop.ctx(idempotency_key=key)
        results = race(4, lambda ctx=ctx: run_tool("issue_refund", refund_args(shop, amount="5.00"), ctx))
        assert all(isinstance(r, dict) for r in results), results
        assert sorted(r["duplicate"] for r in results) == [False, True, True, True]  # type: ignore[index]
        assert len({r["refund_id"] for r in results}) == 1  # type: ignore[index]
        assert rows(shop, RefundRow, RefundRow.idempotency_key == key) == 1
        assert rows(shop, OrderChangeRow, OrderChangeRow.idempotency_key == key) == 1
    order = shop.backend.get_order("default", shop.order("CUS-1001", "delivered_refundable"))
    assert order is not None and order.refunded_cents == 3 * 500


def test_two_approvals_racing_for_the_same_money_refund_it_once(shop: Shop) -> None:
    number = shop.order("CUS-1001", "delivered_refundable")
    everything = run_tool("lookup_refund", {"order_number": number}, shop.ctx())["eligibility"][
        "refundable_amount"
    ]
    args = {"order_number": number, "amount": everything, "reason": "damaged"}
    keys = iter(["approval-a", "approval-b"])
    contexts = [shop.ctx(idempotency_key=next(keys)) for _ in range(2)]
    turn = iter(contexts)
    lock = threading.Lock()

    def one() -> dict[str, Any]:
        with lock:
            ctx = next(turn)
        return run_tool("issue_refund", args, ctx)

    results = race(2, one)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert any(isinstance(r, PolicyViolation) and "fully refunded" in r.message for r in results)
    order = shop.backend.get_order("default", number)
    assert order is not None and order.refunded_cents == order.paid_cents


def test_unique_key_is_the_last_line_of_defence(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the replay check misses a committed twin (a race), the UNIQUE index catches it and we replay."""
    ctx = shop.ctx(idempotency_key="approval-unique")
    first = run_tool("issue_refund", refund_args(shop), ctx)
    real_replay, calls = sql_changes._replay, []

    def blind_first(s: Any, req: Any) -> Any:
        calls.append(req.idempotency_key)
        return None if len(calls) == 1 else real_replay(s, req)

    monkeypatch.setattr(sql_changes, "_replay", blind_first)
    second = run_tool("issue_refund", refund_args(shop), ctx)
    assert len(calls) == 2  # the blind check, then the replay after the IntegrityError
    assert second["duplicate"] is True and second["refund_id"] == first["refund_id"]
    assert rows(shop, RefundRow, RefundRow.idempotency_key == "approval-unique") == 1


def test_refund_keys_are_unique_in_the_database(shop: Shop) -> None:
    run_tool("issue_refund", refund_args(shop), shop.ctx(idempotency_key="approval-db"))
    with Session(shop.engine) as session:
        existing = session.exec(select(RefundRow).where(RefundRow.idempotency_key == "approval-db")).one()
        session.add(RefundRow(**existing.model_dump(exclude={"id", "refund_id"}), refund_id="RF-TWIN0001"))
        with pytest.raises(IntegrityError):
            session.commit()
