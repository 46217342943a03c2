"""What a turn costs in storage round trips (issue 13), counted, not timed: checkpoint writes and reads,
SQL commits. A turn pausing for approval still leaves the checkpoint the resume starts from."""

from __future__ import annotations

import asyncio
from typing import Any

from api.runtime import open_runtime
from bench.turn_latency import WriteCounter
from tests.api.test_approvals import refundable_order


def test_a_turn_writes_one_checkpoint_and_reads_two(settings: Any, seeded_engine: Any) -> None:
    async def scenario() -> tuple[dict[str, float], list[str], list[str]]:
        async with open_runtime(settings, engine=seeded_engine, knowledge=None, redactor=None) as runtime:
            service = runtime.conversations
            conversation = service.create(
                tenant="default", customer_id="CUS-1001", channel="api", actor="key_agent"
            ).id
            order = runtime.backend.customer_profile("default", "CUS-1001").orders[0].order_number  # type: ignore[union-attr]
            counter = WriteCounter(runtime)
            replies = []
            for text in (f"Where is my order {order}?", "How long does a refund take?"):
                result = await service.send(
                    tenant="default", conversation_id=conversation, text=text, customer_id=None, actor="a"
                )
                replies.append(result.reply)
            per_turn = counter.per_turn(2)
            history = [
                m.role
                for m in service.messages(tenant="default", conversation_id=conversation, restore=False)
            ]
            return per_turn, replies, history

    per_turn, replies, history = asyncio.run(scenario())
    assert all(replies) and history == ["customer", "assistant", "customer", "assistant"]
    # One checkpoint when the run ends, no per-step writes; the pending-approval check before the turn
    # (outside the lock) and the one under the lock that also finds where the turn starts.
    assert per_turn.get("checkpoint_puts") == 1
    assert per_turn.get("checkpoint_writes", 0) == 0
    assert per_turn.get("aget_state") == 2
    # Transactions that write: the turn received, each tool call's audit event, the turn finished.
    assert per_turn.get("sql_write_transactions") == 3


def test_a_turn_paused_for_approval_is_checkpointed_at_the_pause(settings: Any, seeded_engine: Any) -> None:
    order = refundable_order(seeded_engine)

    async def request_refund() -> tuple[str, str]:
        async with open_runtime(settings, engine=seeded_engine, knowledge=None, redactor=None) as runtime:
            conversation = runtime.conversations.create(
                tenant="default", customer_id="CUS-1001", channel="api", actor="key_agent"
            )
            result = await runtime.conversations.send(
                tenant="default",
                conversation_id=conversation.id,
                text=f"I want a refund for {order}",
                customer_id=None,
                actor="key_agent",
            )
            assert result.pending_approval
            return conversation.id, result.pending_approval

    conversation_id, approval_id = asyncio.run(request_refund())

    async def reopen() -> list[str]:  # a new process would see the same: the pause is in the checkpoint
        async with open_runtime(settings, engine=seeded_engine, knowledge=None, redactor=None) as runtime:
            return await runtime.agent.pending_approvals("default", conversation_id)

    assert asyncio.run(reopen()) == [approval_id]
