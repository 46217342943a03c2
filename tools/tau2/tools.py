"""tau2 retail's tool names and argument shapes, mapped onto Deskpilot's tools over `Tau2StoreBackend`.

A mapping, not a second implementation: cancel and address changes run Deskpilot's own `cancel_order` and
`update_shipping_address` (their policy checks, approval key and store guard), lookups go through
`owned_order`, a transfer is `escalate_to_human`; the changes Deskpilot's demo store lacks (items,
payment, return, exchange, the default address) are the backend's `retail_change`, under tau2's policy.
The session holds the one customer located by e-mail or name + zip; every tool acts for that customer
only, whatever id the model passes. Writes are sensitive: `call` runs their checks, asks `approve` for an
approval id (the idempotency key, as in `api/approvals.py`), and only then executes.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, ValidationError

from tools.access import owned_order, require_customer, require_idempotency_key
from tools.backends.tau2 import COUNTRY_TO_ISO, TENANT, Tau2StoreBackend
from tools.base import ToolContext
from tools.errors import CustomerRequired, NotFound, PolicyViolation, ToolError
from tools.escalation import ESCALATE_TO_HUMAN, EscalateToHumanArgs
from tools.fields import PostalCode, ToolArgs
from tools.order_changes import (
    CANCEL_ORDER,
    UPDATE_SHIPPING_ADDRESS,
    CancelOrderArgs,
    UpdateShippingAddressArgs,
)
from tools.schemas import Address
from tools.tau2.errors import PolicyRefusal

ORDER_ID = r"^#W\d+$"


def _iso_country(value: Any) -> Any:
    return COUNTRY_TO_ISO.get(value.strip(), value) if isinstance(value, str) else value


OrderId = Annotated[str, Field(pattern=ORDER_ID, validation_alias="order_id")]
Street = Annotated[str, Field(min_length=1, max_length=200, validation_alias="address1")]
Street2 = Annotated[str | None, Field(max_length=100, validation_alias="address2")]
City = Annotated[str, Field(min_length=1, max_length=100)]
State = Annotated[str | None, Field(max_length=100, validation_alias="state")]
Zip = Annotated[PostalCode, Field(validation_alias="zip")]
Country = Annotated[str, BeforeValidator(_iso_country), StringConstraints(pattern=r"^[A-Z]{2}$")]


@dataclass
class Session:
    backend: Tau2StoreBackend
    user_id: str | None = None  # set by a successful lookup, never by the model
    conversation_id: str = "tau2"

    def context(self, idempotency_key: str | None = None) -> ToolContext:
        return ToolContext(
            tenant=TENANT,
            customer_id=self.user_id,
            backend=self.backend,
            conversation_id=self.conversation_id,
            actor="eval:tau2",
            idempotency_key=idempotency_key,
        )


class Args(ToolArgs):
    pass


class Email(Args):
    email: str = Field(min_length=3)


class NameZip(Args):
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    zip: str = Field(pattern=r"^\d{5}$")


class UserId(Args):
    user_id: str


class OrderDetails(Args):
    order_id: str = Field(pattern=ORDER_ID)


class ProductId(Args):
    product_id: str


class ItemId(Args):
    item_id: str


class Expression(Args):
    expression: str = Field(max_length=200)


class Transfer(Args):
    summary: str


class Cancel(CancelOrderArgs):
    """Deskpilot's cancel arguments under tau2's names; tau2's policy, not the schema, refuses a reason
    other than its two, so the refusal says why."""

    order_number: OrderId
    reason: str = Field(description="'no longer needed' or 'ordered by mistake'.")  # type: ignore[assignment]


class OrderAddress(UpdateShippingAddressArgs):
    order_number: OrderId
    street: Street
    street2: Street2
    city: City
    region: State
    postal_code: Zip
    country: Country


class UserAddress(Args):
    user_id: str
    street: Street
    street2: Street2
    city: City
    region: State
    postal_code: Zip
    country: Country

    def address(self) -> Address:
        return Address(**self.model_dump(exclude={"user_id"}))


class Payment(Args):
    order_id: str = Field(pattern=ORDER_ID)
    payment_method_id: str


class Items(Payment):
    item_ids: list[str] = Field(min_length=1)
    new_item_ids: list[str] = Field(min_length=1)


class Return(Payment):
    item_ids: list[str] = Field(min_length=1)


# --- reading -------------------------------------------------------------------------------------
def find_user_id_by_email(args: Email, ctx: ToolContext) -> str:
    customer = ctx.backend.find_customer_by_email(ctx.tenant, args.email)
    if customer is None:
        raise NotFound("No customer with that e-mail.")
    return customer.customer_id


def find_user_id_by_name_zip(args: NameZip, ctx: ToolContext) -> str:
    name = f"{args.first_name} {args.last_name}".lower()
    for customer in ctx.backend.list_customers(ctx.tenant, query=name, limit=1000).items:
        if customer.name.lower() == name and customer.address.postal_code == args.zip:
            return customer.customer_id
    raise NotFound("No customer with that name and zip code.")


def _backend(ctx: ToolContext) -> Tau2StoreBackend:
    if not isinstance(ctx.backend, Tau2StoreBackend):
        raise NotFound("This store has no tau2 retail records.")
    return ctx.backend


def get_user_details(args: UserId, ctx: ToolContext) -> dict[str, Any]:
    if args.user_id != require_customer(ctx) or ctx.backend.get_customer(ctx.tenant, args.user_id) is None:
        raise NotFound("Only the signed-in customer's own profile can be shown.")
    return _backend(ctx).user_details(args.user_id)


def get_order_details(args: OrderDetails, ctx: ToolContext) -> dict[str, Any]:
    owned_order(ctx, args.order_id)  # Deskpilot's ownership check: a miss and another's look the same
    return _backend(ctx).order_details(args.order_id)


def get_product_details(args: ProductId, ctx: ToolContext) -> dict[str, Any]:
    return _backend(ctx).product_details(args.product_id)


def get_item_details(args: ItemId, ctx: ToolContext) -> dict[str, Any]:
    return _backend(ctx).item_details(args.item_id)


def list_all_product_types(args: Args, ctx: ToolContext) -> dict[str, str]:
    return _backend(ctx).product_types()


_OPS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
}


def calculate(args: Expression, ctx: ToolContext) -> float:
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


def transfer_to_human_agents(args: Transfer, ctx: ToolContext) -> str:
    summary = (args.summary.strip() or "transfer requested").ljust(3)[:1000]
    ESCALATE_TO_HUMAN.fn(EscalateToHumanArgs(reason_category="other", summary=summary), ctx)
    return "Transfer successful"


# --- writing (sensitive: checked, approved, then executed) ---------------------------------------
def check_cancel(args: Cancel, ctx: ToolContext) -> list[str]:
    ctx.backend.check_retail_change(  # type: ignore[attr-defined]
        ctx.tenant, require_customer(ctx), "cancellation", args.order_number, reason=args.reason
    )
    assert CANCEL_ORDER.check is not None
    return ["tau2 policy: a pending order, for one of the two reasons.", *CANCEL_ORDER.check(args, ctx)]


def cancel_pending_order(args: Cancel, ctx: ToolContext) -> dict[str, Any]:
    result = CANCEL_ORDER.fn(args, ctx)
    return {**result, "order": _backend(ctx).order_details(args.order_number)}


def check_order_address(args: OrderAddress, ctx: ToolContext) -> list[str]:
    ctx.backend.check_retail_change(  # type: ignore[attr-defined]
        ctx.tenant, require_customer(ctx), "address_change", args.order_number
    )
    assert UPDATE_SHIPPING_ADDRESS.check is not None
    return ["tau2 policy: a pending order.", *UPDATE_SHIPPING_ADDRESS.check(args, ctx)]


def modify_pending_order_address(args: OrderAddress, ctx: ToolContext) -> dict[str, Any]:
    result = UPDATE_SHIPPING_ADDRESS.fn(args, ctx)
    return {**result, "order": _backend(ctx).order_details(args.order_number)}


def _retail(kind: str) -> tuple[Callable[[Any, ToolContext], list[str]], Callable[[Any, ToolContext], Any]]:
    """The check and the execution of one of the backend's retail changes, in the conventions of
    Deskpilot's sensitive tools: the signed-in customer only, executed only with an approval's key."""

    def params(args: Any) -> tuple[str, dict[str, Any]]:
        if isinstance(args, UserAddress):
            return args.user_id, {"address": args.address()}
        return args.order_id, args.model_dump(exclude={"order_id"})

    def check(args: Any, ctx: ToolContext) -> list[str]:
        target, values = params(args)
        _backend(ctx).check_retail_change(ctx.tenant, require_customer(ctx), kind, target, **values)
        return [f"tau2 policy allows {kind.replace('_', ' ')} on {target} for the signed-in customer."]

    def run(args: Any, ctx: ToolContext) -> Any:
        key, customer_id = require_idempotency_key(ctx), require_customer(ctx)
        target, values = params(args)
        change = _backend(ctx).retail_change(
            ctx.tenant,
            customer_id,
            kind,
            target,
            idempotency_key=key,
            now=ctx.now(),
            actor=ctx.actor,
            **values,
        )
        return change.record

    return check, run


@dataclass(frozen=True)
class Tau2Tool:
    args: type[BaseModel]
    run: Callable[[Any, ToolContext], Any]
    check: Callable[[Any, ToolContext], list[str]] | None = None  # set: sensitive, needs an approval
    signs_in: bool = False  # the result is the customer id the session acts for from now on

    @property
    def sensitive(self) -> bool:
        return self.check is not None


def _write(args: type[BaseModel], kind: str) -> Tau2Tool:
    check, run = _retail(kind)
    return Tau2Tool(args, run, check)


TAU2_TOOLS: dict[str, Tau2Tool] = {
    "find_user_id_by_email": Tau2Tool(Email, find_user_id_by_email, signs_in=True),
    "find_user_id_by_name_zip": Tau2Tool(NameZip, find_user_id_by_name_zip, signs_in=True),
    "get_user_details": Tau2Tool(UserId, get_user_details),
    "get_order_details": Tau2Tool(OrderDetails, get_order_details),
    "get_product_details": Tau2Tool(ProductId, get_product_details),
    "get_item_details": Tau2Tool(ItemId, get_item_details),
    "list_all_product_types": Tau2Tool(Args, list_all_product_types),
    "calculate": Tau2Tool(Expression, calculate),
    "transfer_to_human_agents": Tau2Tool(Transfer, transfer_to_human_agents),
    "cancel_pending_order": Tau2Tool(Cancel, cancel_pending_order, check_cancel),
    "modify_pending_order_address": Tau2Tool(OrderAddress, modify_pending_order_address, check_order_address),
    "modify_pending_order_payment": _write(Payment, "modify_payment"),
    "modify_pending_order_items": _write(Items, "modify_items"),
    "modify_user_address": _write(UserAddress, "user_address"),
    "return_delivered_order_items": _write(Return, "return"),
    "exchange_delivered_order_items": _write(Items, "exchange"),
}

# ("ok", result) | ("refused", {rule, ...}) | ("not_found" | "unauthenticated" | ...)
Outcome = tuple[str, Any]
# Given the tool, its arguments and the checks that passed; returns the approval id, or None (not approved).
Approve = Callable[[str, BaseModel, list[str]], str | None]


def call(
    name: str, arguments: dict[str, Any], session: Session, approve: Approve, *, precheck: bool = True
) -> Outcome:
    """Validate, check and get an approval for a sensitive tool, run; expected failures become outcomes.

    `precheck=False` skips the check before the approval (as if a staff member approved a call the check
    never saw), to show that the store itself still refuses what the policy forbids.
    """
    tool = TAU2_TOOLS.get(name)
    if tool is None:
        return "unsupported", f"no tool named {name}"
    try:
        args = tool.args.model_validate(arguments)
    except ValidationError as exc:
        return "invalid", exc.errors(include_url=False)[0]["msg"]
    ctx = session.context()
    try:
        if tool.check is not None:
            checks = tool.check(args, ctx) if precheck else []
            approval_id = approve(name, args, checks)
            if approval_id is None:
                return "pending_approval", checks
            ctx = session.context(idempotency_key=approval_id)
        result = tool.run(args, ctx)
    except PolicyRefusal as exc:
        return "refused", {"rule": exc.rule, "message": str(exc), "tau2_checks": exc.tau2_checks}
    except PolicyViolation as exc:  # Deskpilot's own policy code, stricter than tau2 here
        return "refused", {"rule": "deskpilot", "message": str(exc), "tau2_checks": False}
    except CustomerRequired as exc:
        return "unauthenticated", str(exc)
    except NotFound as exc:
        return "not_found", str(exc)
    except ToolError as exc:
        return exc.code, str(exc)
    if tool.signs_in:
        session.user_id = str(result)
    return "ok", result


DESCRIPTIONS = {
    "find_user_id_by_email": "Find a user id by e-mail; this authenticates the user for the conversation.",
    "find_user_id_by_name_zip": "Find a user id by first name, last name and zip code; this authenticates "
    "the user for the conversation.",
    "get_user_details": "The authenticated user's profile: address, payment methods, order ids.",
    "get_order_details": "One of the authenticated user's orders: items (item and product ids, options, "
    "prices), status, address, fulfilments, payment history.",
    "get_product_details": "A product's variants by product id (not item id): options, availability, price.",
    "get_item_details": "One variant item by item id, with its product id.",
    "list_all_product_types": "The names and product ids of all product types in the store.",
    "calculate": "Evaluate an arithmetic expression (numbers, + - * / and brackets), rounded to cents.",
    "transfer_to_human_agents": "Transfer the user to a human agent, with a summary of the issue; only "
    "when the request cannot be handled within the scope of your actions.",
    "cancel_pending_order": "Cancel a pending order; reason is 'no longer needed' or 'ordered by mistake'. "
    "Paid amounts are refunded. Needs the user's explicit confirmation first.",
    "modify_pending_order_address": "Change the shipping address of a pending order. Needs the user's "
    "explicit confirmation first.",
    "modify_pending_order_payment": "Pay a pending order with another of the user's payment methods. Needs "
    "the user's explicit confirmation first.",
    "modify_pending_order_items": "Swap items of a pending order for other options of the same products "
    "(once per order: collect every item first); the price difference goes to or from payment_method_id. "
    "Needs the user's explicit confirmation first.",
    "modify_user_address": "Change the authenticated user's default address. Needs the user's explicit "
    "confirmation first.",
    "return_delivered_order_items": "Request the return of items of a delivered order; the refund goes to "
    "the original payment method or an existing gift card. Needs the user's explicit confirmation first.",
    "exchange_delivered_order_items": "Exchange items of a delivered order for other options of the same "
    "products (once per order: collect every item first); the price difference goes to or from "
    "payment_method_id. Needs the user's explicit confirmation first.",
}


def tool_schemas() -> list[dict[str, Any]]:
    """The tools in OpenAI's function-calling format, with tau2's argument names."""
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": DESCRIPTIONS[name],
                "parameters": tool.args.model_json_schema(mode="validation", by_alias=True),
            },
        }
        for name, tool in TAU2_TOOLS.items()
    ]
