"""tau2-bench's retail database (users, orders, products) in memory, one private copy per session."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.tau2.errors import NotFound


@dataclass
class RetailDB:
    """The three tables of `tau2-retail/db.json`, keyed by id as published."""

    users: dict[str, dict[str, Any]]
    orders: dict[str, dict[str, Any]]
    products: dict[str, dict[str, Any]]
    _items: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path) -> RetailDB:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(users=data["users"], orders=data["orders"], products=data["products"])

    def copy(self) -> RetailDB:
        """A copy to write to: each task or conversation has its own users and orders (no tool writes
        products, so they are shared)."""
        return RetailDB(copy.deepcopy(self.users), copy.deepcopy(self.orders), self.products, self._items)

    def copy_for(self, order_id: str) -> RetailDB:
        """A cheap copy for trying one write on one order: only that order and its user are duplicated."""
        order = self.order(order_id)
        users = {**self.users, order["user_id"]: copy.deepcopy(self.users[order["user_id"]])}
        return RetailDB(users, {**self.orders, order_id: copy.deepcopy(order)}, self.products, self._items)

    def user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.users:
            raise NotFound("user not found")
        return self.users[user_id]

    def order(self, order_id: str) -> dict[str, Any]:
        if order_id not in self.orders:
            raise NotFound("order not found")
        return self.orders[order_id]

    def product(self, product_id: str) -> dict[str, Any]:
        if product_id not in self.products:
            raise NotFound("product not found")
        return self.products[product_id]

    def variant(self, item_id: str) -> tuple[str, dict[str, Any]]:
        """(product id, variant) of an item id, across every product."""
        if not self._items:
            for product_id, product in self.products.items():
                for variant_id, variant in product["variants"].items():
                    self._items[variant_id] = (product_id, variant)
        if item_id not in self._items:
            raise NotFound("item not found")
        return self._items[item_id]

    def state(self) -> dict[str, Any]:
        """Users and orders as they are now (products never change), for comparing end states."""
        return {"users": self.users, "orders": self.orders}
