"""The agent's view of the knowledge base: when Chroma cannot answer, a turn goes on without passages.

Only the agent's retrieval is softened; the knowledge API still answers 503, and `/readyz` reports the
knowledge base as down. The model is then told no help-centre passage was found, so it answers without
citing. A turn whose retrieval failed is marked degraded (`degraded_reason: knowledge_base_unavailable`
in the stored reply, the API answer and the SSE `final` event), and its reply tells the customer that
the help centre could not be consulted, so an answer without sources is not taken for the articles' word.

Which turn saw the failure: `track()` (called by the conversation service before a turn runs) puts a
fresh list in a context variable; the turn's task and the threads its retrieval runs in inherit it, so a
failure is noted on that turn's list only, however many turns the process runs at once.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)
KB_UNAVAILABLE = "knowledge_base_unavailable"
KB_NOTICE = (
    "(Please note: our help centre could not be reached just now, so this answer was written without "
    "checking its articles. A member of our team can confirm the details if needed.)"
)
_failures: ContextVar[list[str] | None] = ContextVar("deskpilot_kb_failures", default=None)


def track() -> list[str]:
    """A fresh record of this turn's knowledge-base failures (filled by FailSoftRetriever.search)."""
    failures: list[str] = []
    _failures.set(failures)
    return failures


def mark_degraded(result: Any, failures: list[str]) -> None:
    """Marks a turn result whose retrieval failed: degraded, with the reason, and the customer told."""
    if not failures:
        return
    result.degraded = True
    result.degraded_reason = KB_UNAVAILABLE
    for field in ("reply", "reply_redacted"):
        text = getattr(result, field) or ""
        if KB_NOTICE not in text:
            setattr(result, field, f"{text.rstrip()}\n\n{KB_NOTICE}" if text.strip() else KB_NOTICE)


class FailSoftRetriever:
    def __init__(self, knowledge: Any, *, log_every_s: float = 30.0) -> None:
        self.knowledge = knowledge
        self._log_every_s = log_every_s
        self._logged_at = float("-inf")
        self.failures = 0

    def search(self, tenant: str, query: str, k: int = 5, **kwargs: Any) -> list[Any]:
        try:
            return list(self.knowledge.search(tenant, query, k, **kwargs))
        except Exception as error:  # noqa: BLE001 - any outage of the store: answer without it
            self.failures += 1
            if (turn := _failures.get()) is not None:
                turn.append(type(error).__name__)
            now = time.monotonic()
            if now - self._logged_at >= self._log_every_s:
                self._logged_at = now
                log.warning("knowledge base unavailable (%s): answering without it", type(error).__name__)
            return []
