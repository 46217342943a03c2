"""The model-driven tools run, as tau2-bench runs its retail tasks: a model plays the customer from the
task's instructions, our agent answers with our tools on a fresh copy of the store, and the task passes
when the final database state hashes like the state the task's ground-truth actions leave (plus, where the
task asks for it, every `communicate_info` value said to the customer). pass^1 is the mean over tasks.

The agent is the tau2 tool mapping (`tools/tau2/tools.py`: Deskpilot's tools over `Tau2StoreBackend`)
driven by the model with tau2's policy as its instructions; writes go through `EvalApprovals`. It is not
Deskpilot's LangGraph agent: that one's tool registry is the product's, without tau2's tools.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from openai import OpenAI

from api.eval.tools import EvalApprovals, task_user
from tools.backends.tau2 import Tau2StoreBackend
from tools.tau2.tools import Session, call, tool_schemas

STOP_TOKENS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
GREETING = "Hi! How can I help you today?"
AGENT_SYSTEM = (
    "<instructions>\nYou are a customer service agent that helps the user according to the <policy> "
    "provided below.\nIn each turn you can either:\n- Send a message to the user.\n- Make a tool call.\n"
    "You cannot do both at the same time.\n\nTry to be helpful and always follow the policy. Always make "
    "sure you generate valid JSON only.\n</instructions>\n<policy>\n{policy}\n</policy>"
)
USER_SYSTEM = (
    "You are a customer contacting a retail store's support agent. Play the customer described here; "
    "never act as the agent.\n\n<scenario>\n{scenario}\n</scenario>\n\nRules:\n"
    "- Write one message at a time, as the customer would.\n"
    "- Do not give away all the instructions at once: only what the current step needs.\n"
    "- Do not make up information the scenario does not give you; say you do not know or remember.\n"
    "- When the scenario's goal is reached, reply with ###STOP### alone to end the conversation.\n"
    "- If you are transferred to a human agent, reply with ###TRANSFER### alone.\n"
    "- If the scenario gives you no way to go on, reply with ###OUT-OF-SCOPE### alone."
)


def scenario(task: dict[str, Any]) -> str:
    """The customer's side of a tau2 task: persona and instructions, as tau2 hands them to its simulator."""
    user = task.get("user_scenario") or {}
    parts = [f"Persona: {user['persona']}"] if user.get("persona") else []
    instructions = user.get("instructions")
    if isinstance(instructions, str):
        parts.append(instructions)
    elif isinstance(instructions, dict):
        for key, label in (
            ("domain", "Domain"),
            ("reason_for_call", "Reason for call"),
            ("known_info", "Known info"),
            ("unknown_info", "Unknown info"),
            ("task_instructions", "Task instructions"),
        ):
            if instructions.get(key):
                parts.append(f"{label}: {instructions[key]}")
    return "\n".join(parts)


def expected_hash(task: dict[str, Any], store: Tau2StoreBackend) -> str:
    """The end state of the task's ground-truth actions through the same tools, on a fresh copy."""
    actions = (task.get("evaluation_criteria") or {}).get("actions") or []
    session = Session(store.copy(), task_user(actions, store.db))
    approvals = EvalApprovals()
    for action in actions:
        call(action["name"], action.get("arguments") or {}, session, approvals)
    return session.backend.state_hash()


def _said(value: str, messages: list[str]) -> bool:
    wanted = value.lower().replace(",", "")
    return any(wanted in m.lower().replace(",", "") for m in messages)


@dataclass
class TaskRun:
    task_id: str
    reward: float
    db_match: bool
    communicated: bool
    ended_by: str
    turns: int
    tool_calls: int
    approvals: int
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Simulation:
    """One conversation between the customer model and the agent model over one fresh store."""

    client: OpenAI
    agent_model: str
    user_model: str
    policy: str
    max_turns: int = 30  # customer messages
    max_steps: int = 12  # agent model calls per customer message

    def run(self, task: dict[str, Any], store: Tau2StoreBackend) -> TaskRun:
        session = Session(store.copy(), conversation_id=f"tau2-{task['id']}")
        approvals = EvalApprovals()
        agent: list[dict[str, Any]] = [
            {"role": "system", "content": AGENT_SYSTEM.format(policy=self.policy)},
            {"role": "assistant", "content": GREETING},
        ]
        user: list[dict[str, Any]] = [
            {"role": "system", "content": USER_SYSTEM.format(scenario=scenario(task))},
            {"role": "user", "content": GREETING},
        ]
        said: list[str] = [GREETING]
        tools, calls, turns, ended_by, errors = tool_schemas(), 0, 0, "max turns", []
        while turns < self.max_turns:
            text = self._text(self.user_model, user) or ""
            turns += 1
            user.append({"role": "assistant", "content": text})
            stop = next((t for t in STOP_TOKENS if t in text), None)
            if stop:
                ended_by = stop.strip("#").lower()
                break
            agent.append({"role": "user", "content": text})
            reply = None
            for _ in range(self.max_steps):
                message = self._complete(self.agent_model, agent, tools)
                if not message.tool_calls:
                    reply = message.content or ""
                    agent.append({"role": "assistant", "content": reply})
                    break
                agent.append(message.model_dump(include={"role", "content", "tool_calls"}, exclude_none=True))
                for tool_call in message.tool_calls:
                    calls += 1
                    try:
                        arguments = json.loads(tool_call.function.arguments or "{}")
                        outcome, detail = call(tool_call.function.name, arguments, session, approvals)
                    except json.JSONDecodeError:
                        outcome, detail = "invalid", "the arguments are not valid JSON"
                    if outcome != "ok":
                        errors.append(f"{tool_call.function.name}: {outcome}")
                    content = detail if outcome == "ok" else {"error": outcome, "detail": detail}
                    agent.append(
                        {
                            "role": "tool",
                            "tool_call_id": tool_call.id,
                            "content": json.dumps(content, default=str),
                        }
                    )
            if reply is None:
                ended_by = "agent step limit"
                break
            said.append(reply)
            user.append({"role": "user", "content": reply})
        criteria = task.get("evaluation_criteria") or {}
        db_match = session.backend.state_hash() == expected_hash(task, store)
        basis = criteria.get("reward_basis") or ["DB"]
        communicated = all(_said(str(v), said) for v in criteria.get("communicate_info") or [])
        passed = (db_match or "DB" not in basis) and (communicated or "COMMUNICATE" not in basis)
        return TaskRun(
            str(task["id"]),
            1.0 if passed else 0.0,
            db_match,
            communicated,
            ended_by,
            turns,
            calls,
            approvals.granted,
            errors,
        )

    def _complete(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        response = self.client.chat.completions.create(
            model=model, messages=cast(Any, messages), tools=cast(Any, tools), temperature=0.0
        )
        return response.choices[0].message

    def _text(self, model: str, messages: list[dict[str, Any]]) -> str | None:
        response = self.client.chat.completions.create(
            model=model, messages=cast(Any, messages), temperature=0.0
        )
        return response.choices[0].message.content


def run(
    tasks: list[dict[str, Any]],
    store: Tau2StoreBackend,
    policy: str,
    *,
    client: OpenAI,
    model: str,
    user_model: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """pass^1 over `tasks` (one trial each), with each task's outcome."""
    simulation = Simulation(client, model, user_model or model, policy)
    runs: list[TaskRun] = []
    for done, task in enumerate(tasks, start=1):
        try:
            runs.append(simulation.run(task, store))
        except Exception as exc:  # a model or network failure fails the task, visibly, not the suite
            runs.append(TaskRun(str(task["id"]), 0.0, False, False, f"error: {type(exc).__name__}", 0, 0, 0))
        if progress is not None:
            progress(f"tools: tau2 retail, {model} with a simulated customer", done, len(tasks))
    return {
        "mode": "model-driven (simulated customer, end-state hash)",
        "model": model,
        "user_model": user_model or model,
        "tasks": len(runs),
        "pass^1": sum(r.reward for r in runs) / len(runs) if runs else 0.0,
        "db_match": sum(r.db_match for r in runs) / len(runs) if runs else 0.0,
        "reference": {"tau_bench_gpt4o_retail_pass1": 0.604},
        "runs": [r.as_dict() for r in runs],
    }
