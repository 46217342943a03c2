"""The tools suite's model-driven run end to end: `deskpilot eval --suite tools --model gpt-4o --tasks FILE`
against the local OpenAI-compatible server, which scripts both the simulated customer and the agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api import cli_eval
from tests.api.test_eval_suites import cli_eval_app
from tests.conftest import online
from tests.support.openai_server import OpenAIStub, Reply, ToolCalls
from tests.tools.test_tau2_retail import _db


def _data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "eval-data" / "tau2-retail"
    folder.mkdir(parents=True)
    db = _db()
    (folder / "db.json").write_text(
        json.dumps({"users": db.users, "orders": db.orders, "products": db.products})
    )
    (folder / "policy.md").write_text("# Retail agent policy\n\nCancel a pending order only for two reasons.")
    (folder / "tasks.json").write_text("[]")
    return tmp_path / "eval-data"


def _task(task_id: str) -> dict[str, Any]:
    return {
        "id": task_id,
        "user_scenario": {
            "persona": None,
            "instructions": {
                "domain": "retail",
                "reason_for_call": "You ordered #W1 by mistake and want it cancelled.",
                "known_info": "Your e-mail is ann@example.com.",
                "unknown_info": None,
                "task_instructions": "Confirm when asked.",
            },
        },
        "evaluation_criteria": {
            "actions": [
                {
                    "action_id": "a0",
                    "name": "find_user_id_by_email",
                    "arguments": {"email": "ann@example.com"},
                },
                {
                    "action_id": "a1",
                    "name": "cancel_pending_order",
                    "arguments": {"order_id": "#W1", "reason": "ordered by mistake"},
                },
            ],
            "communicate_info": [],
            "reward_basis": ["DB"],
        },
    }


def _conversation(stub: OpenAIStub, reason: str) -> None:
    """One task's turns in the order the loop asks for them: customer, agent steps, customer, ..."""
    stub.enqueue(
        Reply("Hi, please cancel my order #W1, I ordered it by mistake. I'm ann@example.com."),
        ToolCalls([("find_user_id_by_email", {"email": "ann@example.com"})]),
        ToolCalls([("get_order_details", {"order_id": "#W1"})]),
        Reply(f"Order #W1 is pending. Shall I cancel it for the reason '{reason}'? (yes/no)"),
        Reply("yes"),
        ToolCalls([("cancel_pending_order", {"order_id": "#W1", "reason": reason})]),
        Reply("Done: order #W1 is cancelled and the payment refunded."),
        Reply("###STOP###"),
    )


def test_the_model_run_passes_the_right_end_state_and_fails_the_wrong_one(
    settings: Any, openai_stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cli_eval, "get_settings", lambda: online(settings, openai_stub))
    tasks = tmp_path / "our_tasks.json"
    tasks.write_text(json.dumps([_task("right"), _task("wrong")]))
    _conversation(openai_stub, "ordered by mistake")
    _conversation(openai_stub, "no longer needed")  # allowed by the policy, but not what was asked
    out = tmp_path / "report"
    args = [
        "--suite",
        "tools",
        "--model",
        "gpt-4o",
        "--tasks",
        str(tasks),
        "--data",
        str(_data_dir(tmp_path)),
    ]
    result = CliRunner().invoke(cli_eval_app(), [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert openai_stub.pending == 0

    suite = json.loads((out / "results.json").read_text())["suites"]["tools"]
    assert suite["tasks"] == 2 and suite["agreement"] == {"accepted": 4}  # the replay of our own tasks
    run = suite["model_run"]
    assert run["model"] == "gpt-4o" and run["tasks"] == 2 and run["pass^1"] == 0.5
    right, wrong = run["runs"]
    assert (right["task_id"], right["reward"], right["db_match"]) == ("right", 1.0, True)
    assert (wrong["task_id"], wrong["reward"], wrong["db_match"]) == ("wrong", 0.0, False)
    assert right["ended_by"] == "stop" and right["approvals"] == 1 and right["tool_calls"] == 3
    assert "pass^1 0.500" in (out / "report.md").read_text()

    chats = [r.json for r in openai_stub.chat_requests]
    customer = [c for c in chats if "tools" not in c]
    agent = [c for c in chats if "tools" in c]
    assert len(customer) == 6 and len(agent) == 10
    assert "ann@example.com" in customer[0]["messages"][0]["content"]  # the scenario, not the policy
    assert "Cancel a pending order only" in agent[0]["messages"][0]["content"]
    assert {t["function"]["name"] for t in agent[0]["tools"]} >= {"cancel_pending_order", "get_order_details"}
    # The agent saw the order through our tools (owned_order, then the store's record).
    tool_results = [m for m in agent[2]["messages"] if m["role"] == "tool"]
    assert json.loads(tool_results[-1]["content"])["status"] == "pending"


def test_without_a_key_the_report_says_the_model_run_was_not_run(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cli_eval, "get_settings", lambda: settings)
    tasks = tmp_path / "our_tasks.jsonl"
    tasks.write_text(json.dumps(_task("right")) + "\n")
    out = tmp_path / "report"
    args = ["--suite", "tools", "--tasks", str(tasks), "--data", str(_data_dir(tmp_path)), "--out", str(out)]
    result = CliRunner().invoke(cli_eval_app(), args)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    assert "not_run" in data["suites"]["tools"]["model_run"]
    assert data["suites"]["tools"]["tasks"] == 1
    assert (
        "with a model (simulated customer, end-state hash, pass^1): not run"
        in (out / "report.md").read_text()
    )


def test_with_suite_all_the_tasks_files_format_picks_the_suite(tmp_path: Path) -> None:
    from api.eval.tools import is_tau2_tasks

    tau2 = tmp_path / "tau2.json"
    tau2.write_text(json.dumps([_task("t")]))
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"query": "How long do I have?", "relevant": ["refunds.md"]}))
    assert is_tau2_tasks(tau2) and not is_tau2_tasks(questions)
