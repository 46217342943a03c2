"""Seeds the Northbeam Supply demo shop: the same tenant and day always give the same rows, once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tools.backends.sql_models import SeedRunRow
from tools.demo_builder import DemoBuilder


@dataclass(frozen=True)
class SeedReport:
    tenant: str
    created: bool  # False when the tenant was already seeded and nothing was written
    seeded_for: date
    customers: int
    orders: int
    refunds: int
    tickets: int
    # The scripted customers' named orders, e.g. examples["CUS-1001"]["in_transit"] -> "ORD-105263".
    # CUS-1001: delivered_refundable, in_transit, processing, delivered_old, partially_refunded.
    # CUS-1002: the same plus delivered_over_limit, lost_in_transit, final_sale_only.
    examples: dict[str, dict[str, str]] = field(default_factory=dict)


def seed_demo(
    engine: Engine, *, tenant: str = "default", today: date | None = None, orders: int = 300
) -> SeedReport:
    """Write the demo shop for `tenant` once; later calls return the first report and write nothing.

    Everything is drawn from a Random seeded by the tenant name and dated back from `today`
    (default: the current UTC date), so refund windows mean the same whatever day it runs.
    """
    today = today or datetime.now(UTC).date()
    with Session(engine) as session:
        existing = session.get(SeedRunRow, tenant)
        if existing is not None:
            return _stored(existing)
        shop = DemoBuilder(tenant, today).build(orders)
        report = SeedReport(
            tenant,
            True,
            today,
            len(shop.customers),
            len(shop.orders),
            sum(len(o.refunds) for o in shop.orders),
            len(shop.tickets),
            shop.examples,
        )
        session.add(SeedRunRow(tenant=tenant, seeded_for=today, report=_jsonable(report)))
        try:
            session.flush()  # claims the tenant first: a concurrent seed collides here, not on data
        except IntegrityError:
            session.rollback()
            claimed = session.get(SeedRunRow, tenant)
            if claimed is None:
                raise
            return _stored(claimed)
        session.add_all([c.row for c in shop.customers] + [o.row for o in shop.orders])
        session.flush()  # order ids for the children
        for order in shop.orders:
            for child in (*order.items, *order.payments, *order.refunds):
                child.order_id = order.row.id
                session.add(child)
        session.add_all(shop.tickets)
        session.commit()
        return report


def _jsonable(report: SeedReport) -> dict[str, object]:
    data = asdict(report)
    data["seeded_for"] = report.seeded_for.isoformat()
    return data


def _stored(row: SeedRunRow) -> SeedReport:
    data = {**row.report, "created": False, "seeded_for": row.seeded_for}
    return SeedReport(**data)
