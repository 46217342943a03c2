"""A process killed between executing a refund and replying: after a restart the refund is not repeated."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from api.runtime import open_runtime
from tests.api.test_approvals import refundable_order, refunds_of

# Runs in a child process: approve, let the refund commit, then die before the graph can reply.
CHILD = textwrap.dedent("""
    import asyncio, os, sys
    from api.approvals import ApprovalService
    from api.runtime import open_runtime
    from api.settings import Settings

    original = ApprovalService.execute

    def execute_then_die(self, approval_id, run):
        original(self, approval_id, run)
        os._exit(9)  # the refund and its record are committed; nothing after this happens

    ApprovalService.execute = execute_then_die

    async def main():
        async with open_runtime(Settings(), knowledge=None, redactor=None) as runtime:
            await runtime.approvals.decide_and_resume(tenant="default", approval_id=sys.argv[1],
                                                      decision="approve", note=None, actor="key_staff")

    asyncio.run(main())
""")


def test_crash_between_execution_and_reply(settings: Any, seeded_engine: Any, tmp_path: Path) -> None:
    order = refundable_order(seeded_engine)
    before = len(refunds_of(seeded_engine, order))

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

    env = {**os.environ, "DESKPILOT_HOME": str(settings.home), "DESKPILOT_FORCE_OFFLINE": "true"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, approval_id],
        env=env,
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 9, child.stderr[-2000:]
    assert len(refunds_of(seeded_engine, order)) == before + 1  # executed once, then the crash

    async def restart_and_retry() -> Any:
        async with open_runtime(settings, engine=seeded_engine, knowledge=None, redactor=None) as runtime:
            assert await runtime.agent.pending_approvals("default", conversation_id) == [approval_id]
            approval, result, first = await runtime.approvals.decide_and_resume(
                tenant="default", approval_id=approval_id, decision="approve", note=None, actor="key_staff"
            )
            assert not first and approval.status == "executed"
            messages = runtime.conversations.messages(
                tenant="default", conversation_id=conversation_id, restore=False
            )
            return result, messages, runtime.audit.verify()

    result, messages, verified = asyncio.run(restart_and_retry())
    assert result is not None and "has been issued" in result.reply
    assert len(refunds_of(seeded_engine, order)) == before + 1  # not repeated
    assert "has been issued" in messages[-1].content
    assert verified.ok
