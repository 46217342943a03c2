"""The SQL store behind the StoreBackend seam: tenant scoping, paging, and the caller's transaction."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from tests.tools.store_fixtures import NOW, Shop
from tools import run_tool
from tools.backends import StoreBackend, sql_changes
from tools.backends.sql import SqlStoreBackend
from tools.backends.sql_models import RefundRow, TicketRow
from tools.errors import BackendUnavailable
from tools.schemas import NewTicket


def refunds_with_key(shop: Shop, key: str) -> int:
    with Session(shop.engine) as session:
        return session.exec(
            select(func.count()).select_from(RefundRow).where(RefundRow.idempotency_key == key)
        ).one()


def test_sql_store_satisfies_the_protocol(shop_ro: Shop) -> None:
    assert isinstance(shop_ro.backend, StoreBackend)


def test_customers_are_searched_and_paged_per_tenant(shop_ro: Shop) -> None:
    backend = shop_ro.backend
    first, second = (
        backend.list_customers("default", limit=30),
        backend.list_customers("default", limit=30, offset=30),
    )
    assert first.total == second.total == 80 and len(first.items) == 30
    assert not {c.customer_id for c in first.items} & {c.customer_id for c in second.items}
    found = backend.list_customers("default", query="whitfield")
    assert [c.customer_id for c in found.items] == ["CUS-1001"]
    assert backend.list_customers("default", query="dana.w@EXAMPLE").total == 1
    assert backend.list_customers("default", query="%").total == 0  # wildcards are literal
    assert backend.list_customers("nobody").total == 0


def test_customer_profile_lists_orders_newest_first(shop_ro: Shop) -> None:
    profile = shop_ro.backend.customer_profile("default", "CUS-1001", order_limit=3)
    assert profile is not None
    assert profile.order_count == len(shop_ro.report.examples["CUS-1001"]) and len(profile.orders) == 3
    placed = [o.placed_at for o in profile.orders]
    assert placed == sorted(placed, reverse=True)
    assert profile.orders[0].order_number == shop_ro.order("CUS-1001", "processing")
    assert all(o.item_count >= 1 for o in profile.orders)
    assert shop_ro.backend.customer_profile("default", "CUS-9999") is None
    assert profile.model_dump(mode="json")["customer"]["email"] == "dana.w@example.com"


def test_orders_are_scoped_by_tenant(shop_ro: Shop) -> None:
    def numbers(tenant: str) -> set[str]:
        profile = shop_ro.backend.customer_profile(tenant, "CUS-1001")
        assert profile is not None
        return {o.order_number for o in profile.orders}

    mine, theirs = numbers("default"), numbers("acme")
    assert mine and theirs and mine != theirs
    for number in mine - theirs:
        other = shop_ro.backend.get_order("acme", number)
        assert other is None or other.customer_id != "CUS-1001"


def test_in_transaction_never_commits(shop: Shop) -> None:
    number = shop.order("CUS-1001", "delivered_refundable")
    args = {"order_number": number, "amount": "12.00", "reason": "damaged"}
    with Session(shop.engine) as session:
        view = shop.backend.in_transaction(session)
        ctx = dataclasses.replace(shop.ctx(idempotency_key="approval-tx"), backend=view)
        result = run_tool("issue_refund", args, ctx)
        assert result["duplicate"] is False
        assert session.in_transaction()  # still open: the caller decides
        assert refunds_with_key(shop, "approval-tx") == 0  # another connection sees nothing yet
        assert view.find_change("default", "approval-tx") is not None  # the caller's session does
        session.rollback()
    assert refunds_with_key(shop, "approval-tx") == 0

    with Session(shop.engine) as session:
        view = shop.backend.in_transaction(session)
        ctx = dataclasses.replace(shop.ctx(idempotency_key="approval-tx"), backend=view)
        run_tool("issue_refund", args, ctx)
        note = NewTicket(
            customer_id="CUS-1001",
            subject="Approved",
            summary="s",
            queue="billing",
            priority="normal",
            reason="approval",
        )
        view.create_ticket("default", note, now=NOW)
        assert refunds_with_key(shop, "approval-tx") == 0
        session.commit()
    assert refunds_with_key(shop, "approval-tx") == 1


def test_a_lost_race_does_not_spoil_the_callers_transaction(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The duplicate insert fails inside a savepoint; the caller's own writes in the transaction survive."""
    args = {
        "order_number": shop.order("CUS-1001", "delivered_refundable"),
        "amount": "8.00",
        "reason": "damaged",
    }
    first = run_tool("issue_refund", args, shop.ctx(idempotency_key="approval-sp"))
    real_replay, calls = sql_changes._replay, []

    def blind_first(s: Any, req: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real_replay(s, req)

    monkeypatch.setattr(sql_changes, "_replay", blind_first)
    with Session(shop.engine) as session:
        record = TicketRow(
            tenant="default",
            ticket_id="TCK-00000001",
            subject="approval record",
            summary="s",
            queue="billing",
            priority="normal",
            status="open",
            reason="r",
            created_at=NOW,
        )
        session.add(record)
        view = shop.backend.in_transaction(session)
        again = run_tool(
            "issue_refund", args, dataclasses.replace(shop.ctx(idempotency_key="approval-sp"), backend=view)
        )
        session.commit()
    assert again["duplicate"] is True and again["refund_id"] == first["refund_id"]
    assert refunds_with_key(shop, "approval-sp") == 1
    assert shop.backend.get_ticket("default", "TCK-00000001") is not None


def test_unreachable_store_is_backend_unavailable(tmp_path: Path) -> None:
    from sqlmodel import create_engine

    backend = SqlStoreBackend(create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'shop.db'}"))
    with pytest.raises(BackendUnavailable, match="unavailable"):
        backend.get_order("default", "ORD-104233")
