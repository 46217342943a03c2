"""Model server failing (5xx, 429, hanging): turns still complete, labelled and audited; breakers recover."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import bearer, make_client
from tests.conftest import online as online_settings
from tests.helpers import sse_events
from tests.support import Fail, Hang, Reply, Usage
from tests.support.openai_items import Item

QUESTION = "How long do refunds take?"  # the offline engine answers this without calling tools
# Small enough to keep the tests quick, large enough that the turns meant to land while a breaker is
# open finish inside the window on a busy machine.
RESET_S = 0.5


def online(settings: Any, stub: Any, **overrides: Any) -> Any:
    return online_settings(settings, stub, breaker_failure_threshold=2, breaker_reset_s=RESET_S, **overrides)


class Session:
    """One client, one agent key and one conversation; `turn()` sends a message and returns the reply."""

    def __init__(self, client: Any, engine: Any) -> None:
        self.client = client
        self.headers = bearer(engine)
        self.admin = bearer(engine, scopes=("admin",))
        self.conversation = client.post("/v1/conversations", json={"customer_id": "CUS-1001"},
                                        headers=self.headers).json()["id"]

    def turn(self, text: str = QUESTION) -> dict[str, Any]:
        response = self.client.post(f"/v1/conversations/{self.conversation}/messages", json={"content": text},
                                    headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def audit(self) -> list[dict[str, Any]]:
        events = self.client.get("/v1/audit", params={"conversation_id": self.conversation},
                                 headers=self.admin).json()
        return list(reversed(events))

    def breaker(self, model: str) -> Any:
        chain = self.client.app.state.runtime.model
        return next(link.breaker for link in chain.links if link.name == model)


def models_asked(stub: Any) -> list[str]:
    return [r.json["model"] for r in stub.chat_requests]


@pytest.mark.parametrize("failure", [Fail(500), Fail(503), Fail(429, retry_after=0.01), Hang(3.0)],
                         ids=["500", "503", "429", "hang"])
def test_failing_model_still_answers_offline(failure: Item, settings: Any, openai_stub: Any,
                                             seeded_engine: Any) -> None:
    openai_stub.default = failure
    with make_client(online(settings, openai_stub, llm_timeout_s=0.3), seeded_engine) as client:
        session = Session(client, seeded_engine)
        started = time.monotonic()
        reply = session.turn()
        elapsed = time.monotonic() - started
        history = client.get(f"/v1/conversations/{session.conversation}", headers=session.headers).json()
        events = session.audit()

    assert reply["model"] == "deskpilot-offline" and reply["degraded"] is True
    assert reply["reply"].strip()  # an honest answer from the offline engine, not an error
    assert models_asked(openai_stub) == ["gpt-4o"]  # tried once (no SDK retries configured), then offline
    if isinstance(failure, Hang):
        assert elapsed < 2.5  # the explicit timeout cut the hang short; the SDK default would wait 600 s
    # Nothing is lost: the turn is stored and audited like any other.
    assert [m["role"] for m in history["messages"]] == ["customer", "assistant"]
    assert history["messages"][1]["meta"]["degraded"] is True
    types = [e["type"] for e in events]
    assert "turn.received" in types and "reply.sent" in types
    sent = next(e for e in events if e["type"] == "reply.sent")
    assert sent["payload"]["model"] == "deskpilot-offline" and sent["payload"]["degraded"] is True


def test_streamed_turn_falls_back_too(settings: Any, openai_stub: Any, seeded_engine: Any) -> None:
    openai_stub.default = Fail(500)
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        session = Session(client, seeded_engine)
        with client.stream("POST", f"/v1/conversations/{session.conversation}/messages",
                           headers={**session.headers, "Accept": "text/event-stream"},
                           json={"content": QUESTION}) as response:
            events = sse_events("".join(response.iter_text()))
    final = json.loads(events[-1][1])
    assert events[-1][0] == "final"
    assert final["model"] == "deskpilot-offline" and final["degraded"] is True and final["reply"]


def test_breaker_opens_skips_the_primary_and_recovers(settings: Any, openai_stub: Any,
                                                       seeded_engine: Any) -> None:
    openai_stub.default = Fail(500)
    with make_client(online(settings, openai_stub), seeded_engine) as client:
        session = Session(client, seeded_engine)
        breaker = session.breaker("gpt-4o")

        for _ in range(2):  # breaker_failure_threshold = 2
            assert session.turn()["degraded"] is True
        assert len(openai_stub.chat_requests) == 2 and breaker.state == "open"

        reply = session.turn()  # open: the primary is not called at all
        assert reply["model"] == "deskpilot-offline" and reply["degraded"] is True
        assert len(openai_stub.chat_requests) == 2

        time.sleep(RESET_S + 0.1)  # past the reset time: one trial call; it fails, so the breaker reopens
        assert breaker.state == "half_open"
        assert session.turn()["degraded"] is True
        assert len(openai_stub.chat_requests) == 3 and breaker.state == "open"
        session.turn()
        assert len(openai_stub.chat_requests) == 3

        openai_stub.default = Reply("Refunds take 5-10 business days.", usage=Usage(1200, 9, 1024))
        time.sleep(RESET_S + 0.1)  # the server is back: the next trial succeeds and closes the breaker
        recovered = session.turn()
        assert recovered["model"] == "gpt-4o" and recovered["degraded"] is False
        assert recovered["reply"] == "Refunds take 5-10 business days."
        assert breaker.state == "closed"
        again = session.turn()
        assert again["model"] == "gpt-4o" and again["degraded"] is False
        assert len(openai_stub.chat_requests) == 5
        events = session.audit()

    sent = [e["payload"] for e in events if e["type"] == "reply.sent"]
    assert [p["degraded"] for p in sent] == [True] * 5 + [False] * 2
    assert sum(e["type"] == "turn.received" for e in events) == 7


def fail_primary_only(body: dict[str, Any]) -> Item:
    if body["model"] == "gpt-4o":
        return Fail(500)
    return Reply("Refunds reach your card in 5-10 business days.", usage=Usage(1500, 10, 1280))


def test_fallback_model_answers_when_the_primary_fails(settings: Any, openai_stub: Any,
                                                       seeded_engine: Any) -> None:
    openai_stub.default = fail_primary_only
    settings = online(settings, openai_stub, fallback_models=["gpt-4o-mini"])
    with make_client(settings, seeded_engine) as client:
        session = Session(client, seeded_engine)
        first = session.turn()
        assert first["model"] == "gpt-4o-mini" and first["degraded"] is True
        assert first["reply"] == "Refunds reach your card in 5-10 business days."
        assert models_asked(openai_stub) == ["gpt-4o", "gpt-4o-mini"]
        # Priced as the model that answered: 220 fresh + 1280 cached input, 10 output at gpt-4o-mini rates.
        (call,) = first["usage"]["calls"]
        assert call["model"] == "gpt-4o-mini"
        assert call["cost_usd"] == pytest.approx((220 * 0.15 + 1280 * 0.075 + 10 * 0.60) / 1e6, abs=1e-12)

        session.turn()  # the primary's second failure opens its breaker
        session.turn()
        assert models_asked(openai_stub) == ["gpt-4o", "gpt-4o-mini"] * 2 + ["gpt-4o-mini"]
        assert session.breaker("gpt-4o").state == "open"
        assert session.breaker("gpt-4o-mini").state == "closed"

        openai_stub.default = Reply("The primary model is back.")
        time.sleep(RESET_S + 0.1)
        back = session.turn()
        assert back["model"] == "gpt-4o" and back["degraded"] is False
        assert models_asked(openai_stub)[-1] == "gpt-4o"


def test_sdk_retries_a_rate_limit_before_the_breaker_sees_it(settings: Any, openai_stub: Any,
                                                              seeded_engine: Any) -> None:
    openai_stub.enqueue(Fail(429, retry_after=0.01), Reply("Refunds take 5-10 business days."))
    with make_client(online(settings, openai_stub, llm_max_retries=1), seeded_engine) as client:
        session = Session(client, seeded_engine)
        reply = session.turn()
        breaker = session.breaker("gpt-4o")
        assert breaker.state == "closed" and breaker.consecutive_failures == 0

    assert reply["model"] == "gpt-4o" and reply["degraded"] is False
    assert reply["reply"] == "Refunds take 5-10 business days."
    first, retry = openai_stub.chat_requests
    assert first.headers["x-stainless-retry-count"] == "0" and retry.headers["x-stainless-retry-count"] == "1"
    assert retry.raw == first.raw  # the same request, resent
