"""Block Kit for Deskpilot's Slack messages: replies with feedback buttons, approvals, decisions, alerts.

Every piece of text from a customer, the model or a tool is escaped for mrkdwn first, so nothing they
write becomes a `<!channel>` ping, a user mention or a disguised link.
"""

from __future__ import annotations

import json
from typing import Any

APPROVE, REJECT = "deskpilot_approve", "deskpilot_reject"
FEEDBACK_UP, FEEDBACK_DOWN = "deskpilot_feedback_up", "deskpilot_feedback_down"
SECTION_LIMIT = 2900  # Slack caps a section's text at 3000 characters
Blocks = list[dict[str, Any]]


def escape(text: str) -> str:
    """Slack's three control characters; with them escaped, `<!channel>` and `<url|label>` are plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _chunks(text: str) -> list[str]:
    return [text[i : i + SECTION_LIMIT] for i in range(0, len(text), SECTION_LIMIT)] or [""]


# --- a reply in the thread -------------------------------------------------------------------------------


def reply_message(
    reply: str, *, tools: list[str], model: str, degraded: bool, feedback: str | None
) -> dict[str, Any]:
    """The copilot's answer, what it used, and thumbs up/down whose value names the stored message."""
    safe = escape(reply)
    blocks: Blocks = [_section(part) for part in _chunks(safe)]
    used = f"tools: {', '.join(escape(t) for t in tools)}" if tools else "no tools"
    blocks.append(_context(f"{escape(model)}{' (degraded)' if degraded else ''} · {used}"))
    if feedback is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": "deskpilot_feedback",
                "elements": [
                    _button(":thumbsup:", FEEDBACK_UP, feedback),
                    _button(":thumbsdown:", FEEDBACK_DOWN, feedback),
                ],
            }
        )
    return {"text": safe[:3000], "blocks": blocks}


def notice_message(text: str) -> dict[str, Any]:
    """A short message of Deskpilot's own (fixed wording with escaped values spliced in by the caller)."""
    return {"text": text, "blocks": [_section(text)]}


# --- approvals ---------------------------------------------------------------------------------------------


def approval_message(
    *, approval_id: str, tool: str, args: dict[str, Any], checks: list[str], expires: str | None, where: str
) -> dict[str, Any]:
    """What the tool would do, the policy checks it passed, and the two buttons (the value is the id)."""
    blocks = _approval_facts(f"Approval needed: {tool}", args, checks, where)
    if expires:
        blocks.append(_context(f"Expires {escape(expires)} · approval `{escape(approval_id)}`"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "deskpilot_approval",
            "elements": [
                _button("Approve", APPROVE, approval_id, style="primary"),
                _button("Reject", REJECT, approval_id, style="danger"),
            ],
        }
    )
    return {"text": f"Approval needed: {escape(tool)}", "blocks": blocks}


def decided_message(
    *, tool: str, args: dict[str, Any], checks: list[str], status: str, by: str | None, where: str
) -> dict[str, Any]:
    """The approval message once decided: the same facts, the buttons replaced by the outcome."""
    who = f" by <@{by.removeprefix('slack:')}>" if by and by.startswith("slack:") else ""
    outcome = {
        "approved": ":white_check_mark: Approved",
        "executed": ":white_check_mark: Approved and done",
        "failed": ":warning: Approved, but the action failed its policy check",
        "rejected": ":no_entry_sign: Rejected",
        "expired": ":hourglass: Expired without a decision",
    }.get(status, escape(status))
    blocks = _approval_facts(f"Approval: {tool}", args, checks, where)
    blocks.append(_section(f"*{outcome}*{who}"))
    return {"text": f"{escape(tool)}: {escape(status)}", "blocks": blocks}


def _approval_facts(title: str, args: dict[str, Any], checks: list[str], where: str) -> Blocks:
    lines = "\n".join(f"• *{escape(str(k))}*: {escape(_plain(v))}" for k, v in args.items())
    passed = "\n".join(f":ballot_box_with_check: {escape(str(c))}" for c in checks) or "none recorded"
    return [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        _section(f"{where}\n{lines}"[:SECTION_LIMIT]),
        _section(f"*Policy checks*\n{passed}"[:SECTION_LIMIT]),
    ]


def handoff_message(*, conversation_id: str, channel: str, reason: str | None) -> dict[str, Any]:
    text = f":raising_hand: Conversation `{escape(conversation_id)}` ({escape(channel)}) needs a human" + (
        f": {escape(reason)}" if reason else ""
    )
    return notice_message(text)


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
