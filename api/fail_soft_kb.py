"""The agent's view of the knowledge base: when Chroma cannot answer, a turn goes on without passages.

Only the agent's retrieval is softened; the knowledge API still answers 503, and `/readyz` reports the
knowledge base as down. The model is then told no help-centre passage was found, so it answers without
citing and says it could not find the article.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)


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
            now = time.monotonic()
            if now - self._logged_at >= self._log_every_s:
                self._logged_at = now
                log.warning("knowledge base unavailable (%s): answering without it", type(error).__name__)
            return []
