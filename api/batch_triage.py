"""Backlog triage: many tickets classified at once, through the OpenAI Batch API (half the price) or, offline
or without a key, by the offline classifier locally.

Batch path, top-down: redacted tickets -> one JSONL request per ticket (`custom_id` = the ticket id, the
strict Triage schema of POST /v1/triage) -> upload the file -> create the batch -> poll -> download the
output file -> validate each answer as a Triage (an invalid or missing one falls back to the offline
classifier, labelled) -> usage recorded at the batch price (50%).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.offline import OFFLINE_MODEL_NAME
from agent.pricing import PRICES, ModelPrice, cost_usd
from agent.triage import Triage, classify_offline, triage_response_format
from agent.triage_service import TRIAGE_MAX_TOKENS, TRIAGE_PROMPT

if TYPE_CHECKING:  # the SDK loads with the first batch, not at start (~1.4 s of an offline start-up)
    from openai import AsyncOpenAI

BATCH_DISCOUNT = 0.5  # the Batch API's price relative to synchronous calls
DONE_STATES = ("completed", "failed", "expired", "cancelled")
Progress = Callable[[int, int], None]  # (done, total)


class BacklogTicket(BaseModel):
    """One line of the backlog file."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100)
    subject: str | None = Field(default=None, max_length=500)
    text: str = Field(min_length=1, max_length=20_000)


@dataclass
class TicketTriage:
    id: str
    triage: Triage
    model: str
    degraded: bool
    error: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "triage": self.triage.model_dump(),
            "model": self.model,
            "degraded": self.degraded,
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class BacklogResult:
    mode: str  # batch | offline
    results: list[TicketTriage]
    batch_id: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)


def ticket_text(ticket: BacklogTicket) -> str:
    return f"Subject: {ticket.subject}\n\n{ticket.text}" if ticket.subject else ticket.text


# --- offline ---------------------------------------------------------------------------------------------


def classify_backlog_offline(
    tickets: Sequence[tuple[str, str]], progress: Progress | None = None
) -> BacklogResult:
    """(id, redacted text) pairs classified locally, one by one, reporting progress."""
    results = []
    for done, (ticket_id, text) in enumerate(tickets, 1):
        results.append(TicketTriage(ticket_id, classify_offline(text), OFFLINE_MODEL_NAME, True))
        if progress:
            progress(done, len(tickets))
    return BacklogResult(mode="offline", results=results, usage=_usage([], "", {}))


# --- the Batch API ---------------------------------------------------------------------------------------


def batch_lines(tickets: Sequence[tuple[str, str]], model: str) -> bytes:
    """The Batch input file: one chat completion request per ticket (the prompt and schema of /v1/triage)."""
    lines = []
    for ticket_id, text in tickets:
        body = {
            "model": model,
            "messages": [
                {"role": "system", "content": TRIAGE_PROMPT},
                {"role": "user", "content": f"<ticket>\n{text}\n</ticket>"},
            ],
            "response_format": triage_response_format(),
            "max_tokens": TRIAGE_MAX_TOKENS,
            "temperature": 0.0,
        }
        lines.append(
            json.dumps(
                {"custom_id": ticket_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
            )
        )
    return ("\n".join(lines) + "\n").encode()


async def submit(client: AsyncOpenAI, tickets: Sequence[tuple[str, str]], model: str) -> str:
    """Uploads the input file and creates the batch; returns the batch id."""
    uploaded = await client.files.create(
        file=("triage-backlog.jsonl", batch_lines(tickets, model)), purpose="batch"
    )
    batch = await client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"deskpilot": "triage-backlog"},
    )
    return batch.id


async def wait(
    client: AsyncOpenAI, batch_id: str, *, poll_s: float, timeout_s: float, progress: Progress | None = None
) -> Any | None:
    """The batch once it is done (completed, failed, expired, cancelled), or None after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        batch = await client.batches.retrieve(batch_id)
        counts = batch.request_counts
        if progress and counts is not None:
            progress(counts.completed + counts.failed, counts.total)
        if batch.status in DONE_STATES:
            return batch
        if loop.time() + poll_s > deadline:
            return None
        await asyncio.sleep(poll_s)


async def collect(
    client: AsyncOpenAI,
    batch: Any,
    tickets: Sequence[tuple[str, str]],
    model: str,
    prices: Mapping[str, ModelPrice] | None = None,
) -> BacklogResult:
    """Reads the output file; each ticket without a valid answer is classified offline and says why."""
    answers: dict[str, dict[str, Any]] = {}
    if batch.output_file_id:
        content = await client.files.content(batch.output_file_id)
        for line in content.text.splitlines():
            if line.strip():
                item = json.loads(line)
                answers[str(item.get("custom_id"))] = item
    results, bodies = [], []
    for ticket_id, text in tickets:
        item = answers.get(ticket_id)
        triage, error = _answer(item)
        if triage is None:
            results.append(TicketTriage(ticket_id, classify_offline(text), OFFLINE_MODEL_NAME, True, error))
            continue
        body = item["response"]["body"]  # type: ignore[index]
        bodies.append(body)
        results.append(TicketTriage(ticket_id, triage, str(body.get("model") or model), False))
    return BacklogResult(
        mode="batch", results=results, batch_id=batch.id, usage=_usage(bodies, model, prices or PRICES)
    )


def _answer(item: dict[str, Any] | None) -> tuple[Triage | None, str | None]:
    if item is None:
        return None, "no answer in the batch output"
    response = item.get("response") or {}
    if item.get("error") or response.get("status_code") != 200:
        return None, f"the batch request failed ({response.get('status_code') or 'error'})"
    try:
        content = response["body"]["choices"][0]["message"]["content"]
        return Triage.model_validate_json(content), None
    except (KeyError, IndexError, TypeError, ValidationError):
        return None, "the answer was not a valid triage"


def _usage(bodies: list[dict[str, Any]], model: str, prices: Mapping[str, ModelPrice]) -> dict[str, Any]:
    """Tokens of the batch and its cost at the batch price (half the synchronous one)."""
    input_tokens = sum(int((b.get("usage") or {}).get("prompt_tokens", 0)) for b in bodies)
    cached = sum(
        int(((b.get("usage") or {}).get("prompt_tokens_details") or {}).get("cached_tokens", 0))
        for b in bodies
    )
    output_tokens = sum(int((b.get("usage") or {}).get("completion_tokens", 0)) for b in bodies)
    full = float(cost_usd(model, input_tokens, cached, output_tokens, prices)) if bodies else 0.0
    return {
        "model": model if bodies else OFFLINE_MODEL_NAME,
        "input_tokens": input_tokens,
        "cached_tokens": cached,
        "output_tokens": output_tokens,
        "cost_usd": round(full * BATCH_DISCOUNT, 8),
        "full_price_usd": round(full, 8),
        "requests": len(bodies),
    }
