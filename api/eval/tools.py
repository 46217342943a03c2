"""Tools suite on tau2 retail, offline: replay each task's ground-truth actions through our tools and policy.

Every ground-truth action is something tau2's policy allows, so each should be accepted; a refusal means
our policy code is stricter than tau2's, "cannot express" that we lack the tool or its arguments. Then
each accepted write is tried again in a form the policy forbids (the same action once more, a cancel
reason outside the two allowed, an item swapped for another product), and must be refused for that rule.
Writes are sensitive: the eval approves them itself and counts the approvals.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tools.backends.tau2 import Tau2StoreBackend
from tools.tau2.store import RetailDB
from tools.tau2.tools import TAU2_TOOLS, Session, call

Progress = Callable[[str, int, int], None]
WRITES = frozenset(name for name, tool in TAU2_TOOLS.items() if tool.sensitive)
# The rule a forbidden variant of each write must be refused by (the section of tau2's policy).
REPEAT_RULE = {
    "cancel_pending_order": "cancel",
    "modify_pending_order_items": "modify items",
    "modify_pending_order_payment": "modify payment",
    "return_delivered_order_items": "return",
    "exchange_delivered_order_items": "exchange",
}
OUTCOMES = ("ok", "refused", "unauthenticated", "not_found", "invalid", "unsupported")


class EvalApprovals:
    """The approval flow of `api/approvals.py` with the eval as the staff member: a call is proposed only
    after its policy checks pass, the decision is recorded, and the approval id is the idempotency key
    the tool executes with (a sensitive tool without one raises ApprovalRequired)."""

    def __init__(self, approve: bool = True) -> None:
        self.approve = approve
        self.records: list[dict[str, Any]] = []

    @property
    def granted(self) -> int:
        return sum(r["status"] == "approved" for r in self.records)

    def __call__(self, tool: str, args: BaseModel, checks: list[str]) -> str | None:
        approval_id = f"apr_eval_{uuid.uuid4().hex}"
        status = "approved" if self.approve else "pending"
        self.records.append(
            {
                "approval_id": approval_id,
                "tool": tool,
                "checks": checks,
                "status": status,
                "decided_by": "eval",
            }
        )
        return approval_id if self.approve else None


def _other_product_item(db: RetailDB, item_id: str) -> str:
    product_id, _ = db.variant(item_id)
    for other_id, product in sorted(db.products.items()):
        if other_id != product_id:
            return next(iter(product["variants"]))
    raise ValueError("the store has one product only")


def _forbidden_variants(
    name: str, arguments: dict[str, Any], db: RetailDB
) -> list[tuple[str, dict[str, Any], str]]:
    """(what, arguments, expected rule) for forbidden forms of a write that was just accepted."""
    out = []
    if name in REPEAT_RULE:
        out.append(("repeated", arguments, REPEAT_RULE[name]))
    if name == "cancel_pending_order":
        out.append(("reason outside the two allowed", {**arguments, "reason": "found it cheaper"}, "cancel"))
    if name in ("modify_pending_order_items", "exchange_delivered_order_items"):
        swapped = [_other_product_item(db, arguments["new_item_ids"][0]), *arguments["new_item_ids"][1:]]
        rule = "modify items" if name.startswith("modify") else "exchange"
        out.append(("another product", {**arguments, "new_item_ids": swapped}, rule))
    return out


def task_user(actions: list[dict[str, Any]], db: RetailDB) -> str | None:
    """The customer a task is about: the owner of the first order it names, or the first user id.

    Deskpilot takes the customer from the authenticated request; tau2's ground truth often lists only the
    writes, without the lookups that located the user, so the replay signs that customer in up front.
    """
    for action in actions:
        arguments = action.get("arguments") or {}
        if arguments.get("order_id") in db.orders:
            return str(db.orders[arguments["order_id"]]["user_id"])
        if arguments.get("user_id") in db.users:
            return str(arguments["user_id"])
    return None


def error_in_tau2_too(name: str, arguments: dict[str, Any], db: RetailDB) -> bool:
    """The action names an order, product, item, e-mail or name + zip that tau2's database lacks, so tau2's
    own tool fails as well (the ground truth keeps such attempts, like a mistyped e-mail tried first)."""
    if name == "find_user_id_by_email":
        return all(u["email"].lower() != str(arguments.get("email", "")).lower() for u in db.users.values())
    if name == "find_user_id_by_name_zip":
        wanted = (arguments.get("first_name"), arguments.get("last_name"), arguments.get("zip"))
        return all(
            (u["name"]["first_name"], u["name"]["last_name"], u["address"]["zip"]) != wanted
            for u in db.users.values()
        )
    if "order_id" in arguments and arguments["order_id"] not in db.orders:
        return True
    return "product_id" in arguments and arguments["product_id"] not in db.products


def load_tasks(path: Path) -> list[dict[str, Any]]:
    """tau2 tasks: a JSON list (tau2's tasks.json), a JSON Lines file, or a folder of one task per file."""
    if path.is_dir():
        return [json.loads(p.read_text()) for p in sorted(path.glob("*.json"))]
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    tasks = data if isinstance(data, list) else [data]
    for task in tasks:
        if "id" not in task or "evaluation_criteria" not in task:
            raise ValueError(f"{path}: a tau2 task needs 'id' and 'evaluation_criteria'")
    return tasks


def is_tau2_tasks(path: Path) -> bool:
    """Whether `path` holds tau2 tasks (for `--tasks` with `--suite all`); retrieval questions do not."""
    try:
        first = load_tasks(path)[0]
    except (ValueError, IndexError, KeyError, TypeError, OSError):
        return False
    return isinstance(first, dict) and "evaluation_criteria" in first


def run(
    data_dir: Path,
    progress: Progress | None = None,
    *,
    tasks_path: Path | None = None,
    model: str | None = None,
    client: Any = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The offline replay always; the model-driven run too when `client` (an OpenAI client) is given."""
    folder = data_dir / "tau2-retail"
    if not (folder / "db.json").is_file():
        return {"suite": "tools", "skipped": f"not found: {folder}"}
    store = Tau2StoreBackend.load(folder / "db.json")
    tasks = load_tasks(tasks_path or folder / "tasks.json")[:limit]
    result = replay(store, tasks, progress)
    result["tasks_file"] = str(tasks_path or folder / "tasks.json")
    if client is None or not model:
        result["model_run"] = {
            "not_run": "no model: set OPENAI_API_KEY (or the configured endpoint) and pass --model gpt-4o"
        }
        return result
    from api.eval import tau2_sim

    policy = (folder / "policy.md").read_text(encoding="utf-8")
    result["model_run"] = tau2_sim.run(tasks, store, policy, client=client, model=model, progress=progress)
    return result


def replay(
    store: Tau2StoreBackend, tasks: list[dict[str, Any]], progress: Progress | None = None
) -> dict[str, Any]:
    base = store.db
    outcomes: Counter[str] = Counter()
    agreement: Counter[str] = Counter()
    by_tool: dict[str, Counter[str]] = {}
    disagreements: list[dict[str, Any]] = []
    forbidden: Counter[str] = Counter()
    forbidden_in_store: Counter[str] = Counter()
    unchecked = EvalApprovals()  # approvals of calls whose check was skipped on purpose, not counted
    approvals = EvalApprovals()
    tasks_all_accepted = 0

    for done, task in enumerate(tasks, start=1):
        actions = (task.get("evaluation_criteria") or {}).get("actions") or []
        session = Session(store.copy(), task_user(actions, base))
        accepted_all = True
        for action in actions:
            name, arguments = action["name"], action.get("arguments") or {}
            outcome, detail = call(name, arguments, session, approvals)
            outcomes[outcome] += 1
            by_tool.setdefault(name, Counter())[outcome] += 1
            if outcome != "ok":
                accepted_all = False
                also = (outcome == "refused" and detail["tau2_checks"]) or (
                    outcome in ("not_found", "invalid") and error_in_tau2_too(name, arguments, base)
                )
                agreement["error in tau2 too" if also else f"{outcome}, not in tau2"] += 1
                disagreements.append(
                    {
                        "task": task["id"],
                        "action": name,
                        "outcome": outcome,
                        "detail": detail,
                        "tau2_too": also,
                    }
                )
                continue
            agreement["accepted"] += 1
            if name not in WRITES:
                continue
            for what, changed, rule in _forbidden_variants(name, arguments, session.backend.db):
                trial = Session(session.backend.copy_for(arguments["order_id"]), session.user_id)
                result, reason = call(name, changed, trial, approvals)
                same_rule = result == "refused" and reason["rule"] == rule
                forbidden["refused for the policy's reason" if same_rule else f"not refused ({result})"] += 1
                # Approved without the check: the store's own policy check must still refuse it.
                direct = Session(session.backend.copy_for(arguments["order_id"]), session.user_id)
                stored, why = call(name, changed, direct, unchecked, precheck=False)
                in_store = stored == "refused" and why["rule"] == rule
                forbidden_in_store["refused" if in_store else f"not refused ({stored})"] += 1
                if not in_store:
                    disagreements.append(
                        {"task": task["id"], "action": f"{name} ({what}, unchecked)", "outcome": stored}
                    )
                if not same_rule:
                    disagreements.append(
                        {
                            "task": task["id"],
                            "action": f"{name} ({what})",
                            "outcome": result,
                            "detail": reason,
                        }
                    )
        tasks_all_accepted += accepted_all
        if progress is not None:
            progress("tools: tau2 retail ground-truth replay", done, len(tasks))
    total = sum(outcomes[o] for o in OUTCOMES)
    return {
        "suite": "tools",
        "mode": "offline replay of ground-truth actions",
        "tasks": len(tasks),
        "actions": total,
        "accepted": outcomes["ok"] / total if total else 0.0,
        "tasks_all_accepted": tasks_all_accepted,
        "outcomes": dict(outcomes),
        "agreement": dict(agreement),
        "by_tool": {name: dict(c) for name, c in sorted(by_tool.items())},
        "forbidden_variants": dict(forbidden),
        "forbidden_variants_approved_unchecked": dict(forbidden_in_store),
        "approvals_granted_by_eval": approvals.granted,
        "disagreements": disagreements,
        "reference": {"tau_bench_gpt4o_retail_pass1": 0.604},
    }
