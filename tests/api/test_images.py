"""Image inputs: passed to gpt-4o as image parts, declined by the offline engine, audited by hash only."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tests.conftest import bearer, make_client, online
from tests.support import Reply

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def start(client: Any, headers: dict[str, str]) -> str:
    return str(
        client.post("/v1/conversations", json={"customer_id": "CUS-1001"}, headers=headers).json()["id"]
    )


def test_offline_engine_says_it_cannot_read_images_and_audit_keeps_only_the_hash(
    settings: Any, seeded_engine: Any
) -> None:
    headers = bearer(seeded_engine, "default", ("agent", "admin"))
    with make_client(settings, seeded_engine) as client:
        conversation = start(client, headers)
        body = client.post(
            f"/v1/conversations/{conversation}/messages",
            headers=headers,
            json={"content": "The tent arrived torn, see photo", "images": [{"url": DATA_URL}]},
        ).json()
        events = client.get("/v1/audit", params={"type": "turn.received"}, headers=headers).json()
    assert "can't read images" in body["reply"]
    image = events[0]["payload"]["images"][0]
    assert image == {
        "sha256": hashlib.sha256(PNG).hexdigest(),
        "size_bytes": len(PNG),
        "media_type": "image/png",
        "remote": False,
        "detail": "auto",
    }
    assert base64.b64encode(PNG).decode()[:20] not in json.dumps(events)


def test_images_reach_gpt4o_as_image_parts(settings: Any, seeded_engine: Any, openai_stub: Any) -> None:
    online_settings = online(settings, openai_stub, image_detail="low")
    headers = bearer(seeded_engine)
    openai_stub.enqueue(Reply("I can see the tear in the fabric."))
    with make_client(online_settings, seeded_engine) as client:
        conversation = start(client, headers)
        body = client.post(
            f"/v1/conversations/{conversation}/messages",
            headers=headers,
            json={
                "content": "Damage photos attached",
                "images": [
                    {"url": DATA_URL},
                    {"url": "https://cdn.example.com/receipt.jpg", "detail": "high"},
                ],
            },
        ).json()
    assert body["reply"] == "I can see the tear in the fabric."
    user = next(m for m in openai_stub.chat_requests[0].json["messages"] if m["role"] == "user")
    parts = user["content"]
    assert parts[0] == {"type": "text", "text": "Damage photos attached"}
    assert parts[1] == {"type": "image_url", "image_url": {"url": DATA_URL, "detail": "low"}}
    assert parts[2]["image_url"] == {"url": "https://cdn.example.com/receipt.jpg", "detail": "high"}


def test_bad_images_are_refused_clearly(settings: Any, seeded_engine: Any) -> None:
    small = settings.model_copy(update={"image_max_bytes": 1000})
    headers = bearer(seeded_engine)
    big = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"0" * 5000).decode()
    with make_client(small, seeded_engine) as client:
        conversation = start(client, headers)

        def send(images: list[dict[str, str]]) -> Any:
            return client.post(
                f"/v1/conversations/{conversation}/messages",
                headers=headers,
                json={"content": "see photo", "images": images},
            )

        assert send([{"url": big}]).status_code == 413
        plain = send([{"url": "http://example.com/a.png"}])
        assert plain.status_code == 422 and "https" in plain.json()["error"]["message"]
        assert send([{"url": "data:application/pdf;base64,AAAA"}]).status_code == 422
        assert send([{"url": DATA_URL}] * 5).status_code == 422
        assert send([{"url": DATA_URL, "detail": "ultra"}]).status_code == 422
