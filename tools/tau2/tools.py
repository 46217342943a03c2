"""tau2 retail's tools as Deskpilot writes tools: pydantic arguments, policy in code, a trusted session.

The session holds the one user located by e-mail or name + zip; every user and order tool acts for that
user only, whatever id the model passes. The tools that write (cancel, modify, return, exchange) are
sensitive: in the product they wait for a staff approval; the eval approves them itself and says so.
Effects follow tau2-bench's retail tools, so end states compare with tau2's expected ones.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.tau2 import policy
from tools.tau2.errors import NotAuthenticated, NotFound, PolicyRefusal
from tools.tau2.store import RetailDB


@dataclass
class Session:
    db: RetailDB
    user_id: str | None = None  # set by a successful lookup, never by the model

    def own_user(self, user_id: str) -> dict[str, Any]:
        if self.user_id is None:
            raise NotAuthenticated("locate the user by e-mail or by name and zip code first")
        if user_id != self.user_id:
            raise NotAuthenticated("only the authenticated user's own profile can be used")
        return self.db.user(user_id)

    def own_order(self, order_id: str) -> dict[str, Any]:
        if self.user_id is None:
            raise NotAuthenticated("locate the user by e-mail or by name and zip code first")
        order = self.db.order(order_id)
        if order["user_id"] != self.user_id:
            raise NotAuthenticated("that order belongs to another user")
        return order


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Email(Args):
    email: str = Field(min_length=3)


class NameZip(Args):
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    zip: str = Field(pattern=r"^\d{5}$")


class UserId(Args):
    user_id: str


class OrderId(Args):
    order_id: str = Field(pattern=r"^#W\d+$")


class ProductId(Args):
    product_id: str


class ItemId(Args):
    item_id: str


class Expression(Args):
    expression: str = Field(max_length=200)


class Cancel(OrderId):
    reason: str  # the policy, not the schema, refuses other reasons: the refusal then says why


class Address(Args):
    address1: str
    address2: str
    city: str
    state: str
    country: str
    zip: str


class OrderAddress(Address):
    order_id: str = Field(pattern=r"^#W\d+$")


class UserAddress(Address):
    user_id: str


class Payment(OrderId):
    payment_method_id: str


class Items(Payment):
    item_ids: list[str] = Field(min_length=1)
    new_item_ids: list[str] = Field(min_length=1)


class Return(Payment):
    item_ids: list[str] = Field(min_length=1)


class Transfer(Args):
    summary: str


# --- reading -------------------------------------------------------------------------------------
def find_user_id_by_email(args: Email, s: Session) -> str:
    for user_id, user in s.db.users.items():
        if user["email"].lower() == args.email.lower():
            s.user_id = user_id
            return user_id
    raise NotFound("no user with that e-mail")


def find_user_id_by_name_zip(args: NameZip, s: Session) -> str:
    for user_id, user in s.db.users.items():
        name, address = user["name"], user["address"]
        if (name["first_name"].lower(), name["last_name"].lower(), address["zip"]) == (
            args.first_name.lower(),
            args.last_name.lower(),
            args.zip,
        ):
            s.user_id = user_id
            return user_id
    raise NotFound("no user with that name and zip code")


def get_user_details(args: UserId, s: Session) -> dict[str, Any]:
    return s.own_user(args.user_id)


def get_order_details(args: OrderId, s: Session) -> dict[str, Any]:
    return s.own_order(args.order_id)


def get_product_details(args: ProductId, s: Session) -> dict[str, Any]:
    return s.db.product(args.product_id)


def get_item_details(args: ItemId, s: Session) -> dict[str, Any]:
    product_id, variant = s.db.variant(args.item_id)
    return {**variant, "product_id": product_id}


def list_all_product_types(args: Args, s: Session) -> dict[str, str]:
    return {p["name"]: product_id for product_id, p in sorted(s.db.products.items())}


_OPS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
}


def calculate(args: Expression, s: Session) -> float:
    """Arithmetic on numbers only (+ - * / and brackets), rounded to cents."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.operand))
        raise PolicyRefusal("calculate", "only numbers and + - * / ( ) are allowed")

    try:
        return round(value(ast.parse(args.expression, mode="eval").body), 2)
    except (SyntaxError, ZeroDivisionError) as exc:
        raise PolicyRefusal("calculate", f"cannot calculate that: {exc}") from None


def transfer_to_human_agents(args: Transfer, s: Session) -> str:
    return "Transfer successful"


# --- writing (sensitive) -------------------------------------------------------------------------
def _adjust_gift_card(s: Session, order: dict[str, Any], payment_method_id: str, amount: float) -> None:
    method = s.db.user(order["user_id"])["payment_methods"][payment_method_id]
    if method["source"] == "gift_card":
        method["balance"] = round(float(method["balance"]) + amount, 2)


def cancel_pending_order(args: Cancel, s: Session) -> dict[str, Any]:
    order = s.own_order(args.order_id)
    policy.check_cancel(order, args.reason)
    refunds = [
        {"transaction_type": "refund", "amount": p["amount"], "payment_method_id": p["payment_method_id"]}
        for p in order["payment_history"]
        if p["transaction_type"] == "payment"
    ]
    for refund in refunds:
        _adjust_gift_card(s, order, refund["payment_method_id"], float(refund["amount"]))
    order["payment_history"].extend(refunds)
    order["status"] = "cancelled"
    order["cancel_reason"] = args.reason
    return order


def modify_pending_order_address(args: OrderAddress, s: Session) -> dict[str, Any]:
    order = s.own_order(args.order_id)
    policy.check_modify_address(order)
    order["address"] = args.model_dump(exclude={"order_id"})
    return order


def modify_pending_order_payment(args: Payment, s: Session) -> dict[str, Any]:
    order = s.own_order(args.order_id)
    policy.check_modify_payment(s.db, order, args.payment_method_id)
    original = next(p for p in order["payment_history"] if p["transaction_type"] == "payment")
    amount = float(original["amount"])
    order["payment_history"].extend(
        [
            {"transaction_type": "payment", "amount": amount, "payment_method_id": args.payment_method_id},
            {
                "transaction_type": "refund",
                "amount": amount,
                "payment_method_id": original["payment_method_id"],
            },
        ]
    )
    _adjust_gift_card(s, order, args.payment_method_id, -amount)
    _adjust_gift_card(s, order, original["payment_method_id"], amount)
    return order


def _swap_items(s: Session, order: dict[str, Any], item_ids: list[str], new_item_ids: list[str]) -> None:
    for old_id, new_id in zip(item_ids, new_item_ids, strict=True):
        item = next(i for i in order["items"] if i["item_id"] == old_id)
        _, variant = s.db.variant(new_id)
        item.update(item_id=new_id, price=variant["price"], options=variant["options"])


def modify_pending_order_items(args: Items, s: Session) -> dict[str, Any]:
    order = s.own_order(args.order_id)
    difference = policy.check_modify_items(
        s.db, order, args.item_ids, args.new_item_ids, args.payment_method_id
    )
    _swap_items(s, order, args.item_ids, args.new_item_ids)
    # Recorded even when the difference is 0, as tau2's tool does, so end states compare.
    kind = "payment" if difference > 0 else "refund"
    order["payment_history"].append(
        {"transaction_type": kind, "amount": abs(difference), "payment_method_id": args.payment_method_id}
    )
    _adjust_gift_card(s, order, args.payment_method_id, -difference)
    order["status"] = "pending (item modified)"
    return order


def modify_user_address(args: UserAddress, s: Session) -> dict[str, Any]:
    user = s.own_user(args.user_id)
    user["address"] = args.model_dump(exclude={"user_id"})
    return user


def return_delivered_order_items(args: Return, s: Session) -> dict[str, Any]:
    order = s.own_order(args.order_id)
    policy.check_return(s.db, order, args.item_ids, args.payment_method_id)
    order["status"] = "return requested"
    order["return_items"] = sorted(args.item_ids)
    order["return_payment_method_id"] = args.payment_method_id
    return order


def exchange_delivered_order_items(args: Items, s: Session) -> dict[str, Any]:
    order = s.own_order(args.order_id)
    difference = policy.check_exchange(s.db, order, args.item_ids, args.new_item_ids, args.payment_method_id)
    order["status"] = "exchange requested"
    order["exchange_items"] = sorted(args.item_ids)
    order["exchange_new_items"] = sorted(args.new_item_ids)
    order["exchange_payment_method_id"] = args.payment_method_id
    order["exchange_price_difference"] = difference
    return order


@dataclass(frozen=True)
class Tau2Tool:
    args: type[Args]
    fn: Callable[[Any, Session], Any]
    sensitive: bool = False


TAU2_TOOLS: dict[str, Tau2Tool] = {
    "find_user_id_by_email": Tau2Tool(Email, find_user_id_by_email),
    "find_user_id_by_name_zip": Tau2Tool(NameZip, find_user_id_by_name_zip),
    "get_user_details": Tau2Tool(UserId, get_user_details),
    "get_order_details": Tau2Tool(OrderId, get_order_details),
    "get_product_details": Tau2Tool(ProductId, get_product_details),
    "get_item_details": Tau2Tool(ItemId, get_item_details),
    "list_all_product_types": Tau2Tool(Args, list_all_product_types),
    "calculate": Tau2Tool(Expression, calculate),
    "transfer_to_human_agents": Tau2Tool(Transfer, transfer_to_human_agents),
    "cancel_pending_order": Tau2Tool(Cancel, cancel_pending_order, sensitive=True),
    "modify_pending_order_address": Tau2Tool(OrderAddress, modify_pending_order_address, sensitive=True),
    "modify_pending_order_payment": Tau2Tool(Payment, modify_pending_order_payment, sensitive=True),
    "modify_pending_order_items": Tau2Tool(Items, modify_pending_order_items, sensitive=True),
    "modify_user_address": Tau2Tool(UserAddress, modify_user_address, sensitive=True),
    "return_delivered_order_items": Tau2Tool(Return, return_delivered_order_items, sensitive=True),
    "exchange_delivered_order_items": Tau2Tool(Items, exchange_delivered_order_items, sensitive=True),
}


Outcome = tuple[str, Any]  # ("ok", result) | ("refused", rule) | ("not_found" | "unauthenticated" | ...)


def call(
    name: str, arguments: dict[str, Any], session: Session, approve: Callable[[str, Args], bool]
) -> Outcome:
    """Validate, ask `approve` for a sensitive tool, run; expected failures become outcomes, never raise."""
    tool = TAU2_TOOLS.get(name)
    if tool is None:
        return "unsupported", f"no tool named {name}"
    try:
        args = tool.args.model_validate(arguments)
    except ValidationError as exc:
        return "invalid", exc.errors(include_url=False)[0]["msg"]
    if tool.sensitive and not approve(name, args):
        return "pending_approval", None
    try:
        return "ok", tool.fn(args, session)
    except PolicyRefusal as exc:
        return "refused", {"rule": exc.rule, "message": str(exc), "tau2_checks": exc.tau2_checks}
    except NotAuthenticated as exc:
        return "unauthenticated", str(exc)
    except NotFound as exc:
        return "not_found", str(exc)
