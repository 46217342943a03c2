"""A local OpenAI-compatible model for benchmarks, in its own process so it never competes for the GIL
with the client or the server under test. Prints its base URL, then serves until killed.

`python -m bench.model_server [DELAY_S]`: answers after DELAY_S (default 0: instantly). The script is
the same for every client: look the order up when the customer names one, then answer citing [1].
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from tests.support.openai_items import Hang, Item, Reply, ToolCalls, Usage
from tests.support.openai_server import OpenAIStub

ORDER = re.compile(r"ORD-\d{6}")


def last_customer_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user" and not message.get("name"):
            content = message.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


def answer(body: dict[str, Any]) -> Item:
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        return Reply("I checked that order for you: it is on its way [1].", usage=Usage(1900, 14, 1664))
    if order := ORDER.search(last_customer_text(messages)):
        return ToolCalls([("lookup_order", {"order_number": order.group()})], usage=Usage(1800, 18, 1664))
    return Reply(
        "Refunds reach the original payment method in 5-10 business days [1].", usage=Usage(1700, 16, 1664)
    )


class Recordless(OpenAIStub):
    """The test server keeps every request for assertions; a benchmark sends tens of thousands."""

    async def _capture(self, request: Any) -> Any:  # type: ignore[override]
        captured = await super()._capture(request)
        with self._lock:
            self._requests.clear()
        return captured


def main() -> None:
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    stub = Recordless(default=(lambda body: Hang(delay, then=answer(body))) if delay else answer).start()
    print(stub.base_url, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
