"""The internal note a delivery ends in: rendered from the stored draft and triage, posted over httpx.

(a 2xx returns the response)
RetryJob      429 (after its Retry-After), 5xx, timeouts and connection errors
DeadJob       any other 4xx: retrying cannot help
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from api.channels.helpdesk.base import NOTE_MARKER, Helpdesk, Note, NoteCall
from api.jobs import DeadJob, RetryJob

MAX_RETRY_AFTER_S = 3600.0


def render(*, delivery_id: str, draft: str, result: dict[str, Any], public_url: str) -> Note:
    """The note's text for staff: the draft (real values restored), sources, triage, pending approval."""
    lines = [
        "Deskpilot suggested reply (internal note; nothing was sent to the customer):",
        "",
        draft.strip(),
    ]
    citations = result.get("citations") or []
    if citations:
        lines += ["", "Sources:"]
        for n, citation in enumerate(citations, 1):
            lines.append(
                f"{n}. {citation['title']}" + (f" - {citation['link']}" if citation.get("link") else "")
            )
    triage = result.get("triage")
    if triage:
        lines += [
            "",
            "Triage: queue {queue}, priority {priority}, intent {intent}, sentiment {sentiment}, "
            "confidence {confidence:.2f}".format(**triage),
        ]
    approvals = result.get("pending_approvals") or []
    for approval in approvals:
        lines += [
            "",
            f"Waiting for staff approval: {approval['tool']} - {public_url}/v1/approvals/{approval['id']}",
        ]
    if result.get("degraded"):
        lines += ["", f"(answered by {result.get('model')}, degraded mode)"]
    lines += ["", NOTE_MARKER.format(delivery_id=delivery_id)]
    structured = {
        "draft": draft,
        "citations": citations,
        "triage": triage,
        "pending_approvals": [{**a, "url": f"{public_url}/v1/approvals/{a['id']}"} for a in approvals],
        "conversation_id": result.get("conversation_id"),
        "model": result.get("model"),
        "degraded": result.get("degraded"),
    }
    return Note(delivery_id=delivery_id, text="\n".join(lines), structured=structured)


async def send(client: httpx.AsyncClient, call: NoteCall) -> httpx.Response:
    """One call; failures become RetryJob or DeadJob with messages that hold no PII."""
    content = call.json if isinstance(call.json, bytes) else None
    try:
        response = await client.request(
            call.method,
            call.url,
            json=None if content is not None else call.json,
            content=content,
            auth=call.auth,
            headers=call.headers,
        )
    except httpx.TimeoutException:
        raise RetryJob("helpdesk timed out") from None
    except httpx.TransportError as error:
        raise RetryJob(f"helpdesk unreachable ({type(error).__name__})") from None
    status = response.status_code
    if status == 429:
        raise RetryJob("helpdesk answered 429", after_s=retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        raise RetryJob(f"helpdesk answered {status}")
    if status >= 400:
        raise DeadJob(f"helpdesk answered {status}")
    return response


async def already_posted(
    client: httpx.AsyncClient, helpdesk: Helpdesk, call: NoteCall | None, note: Note
) -> bool:
    """After an attempt whose outcome is unknown (a crash, a timeout): is our note on the ticket already?"""
    if call is None:
        return False
    response = await send(client, call)
    marker = NOTE_MARKER.format(delivery_id=note.delivery_id)
    try:
        bodies = helpdesk.note_bodies(response.json())
    except ValueError:
        return False
    return any(marker in body for body in bodies)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(when - time.time(), 0.0), MAX_RETRY_AFTER_S)
