"""prompt_cache_key per tenant, split into buckets so each key stays under ~15 requests a minute.

OpenAI routes requests with the same key to the same cache machine; past roughly 15 requests a minute
per key the overflow spills to other machines and misses. Conversations are spread over a power-of-two
number of buckets that grows with the tenant's traffic, so doubling keeps half of them on their key.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Callable


class PromptCacheKeys:
    def __init__(
        self, *, per_key_rpm: int = 15, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_key_rpm = per_key_rpm
        self.window_s = window_s
        self._clock = clock
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def key_for(self, tenant: str, conversation_id: str) -> str:
        """Counts this request towards the tenant's rate and returns its key."""
        buckets = self.buckets(tenant, record=True)
        bucket = zlib.crc32(conversation_id.encode()) % buckets
        # The tenant name is hashed: keys travel to the provider and should not name our customers.
        return f"deskpilot-{hashlib.sha256(tenant.encode()).hexdigest()[:12]}-{bucket}"

    def buckets(self, tenant: str, *, record: bool = False) -> int:
        now = self._clock()
        with self._lock:
            seen = self._seen[tenant]
            if record:
                seen.append(now)
            while seen and seen[0] <= now - self.window_s:
                seen.popleft()
            per_minute = len(seen) * 60.0 / self.window_s
        needed = max(1, math.ceil(per_minute / self.per_key_rpm))
        return 1 << (needed - 1).bit_length()
